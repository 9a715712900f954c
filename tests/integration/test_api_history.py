"""The audit history over HTTP: by instance, case, actor and time, and the chain verification."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from engine.models import HistoryEvent
from tests.integration.rest_support import Rest, deployed, rest

__all__ = ["deployed", "rest"]


def test_history_by_case_actor_and_time(deployed: Rest) -> None:
    rest = deployed
    start = rest.clock.now()
    instance_id, review = rest.to_review("SC-1")
    rest.clock.advance(timedelta(hours=2))
    assert rest.post(f"/tasks/{review['id']}/claim", "sam").status_code == 200
    other = rest.start("SC-2")

    by_instance = rest.get(f"/history?instance_id={instance_id}").json
    types = [e["type"] for e in by_instance["items"]]
    assert types[0] == "instance_started" and types[-1] == "task_claimed"
    assert by_instance["total"] == len(types)
    completed = next(e for e in by_instance["items"] if e["type"] == "task_completed")
    assert completed["actor"] == "alice" and completed["data"]["data"] == {"customer": "ACME", "severity": 3}
    assert completed["element_id"] == "record" and len(completed["hash"]) == 64

    by_case = rest.get("/history?business_key=SC-2").json["items"]
    assert {e["instance_id"] for e in by_case} == {other["id"]}

    by_actor = rest.get("/history?actor=sam", "audrey").json["items"]
    assert [e["type"] for e in by_actor] == ["token_issued", "task_claimed"]
    later = (start + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    since = rest.get(f"/history?since={later}&type=instance_started", "audrey").json["items"]
    assert [e["instance_id"] for e in since] == [other["id"]]
    until = rest.get(f"/history?until={later}&type=instance_started", "adam").json["items"]
    assert [e["instance_id"] for e in until] == [instance_id]
    newest_first = rest.get(f"/history?instance_id={instance_id}&sort=-at&limit=1").json
    assert newest_first["items"][0]["type"] == "task_claimed" and newest_first["limit"] == 1
    deployments = rest.get("/history?chain=deployments", "audrey").json["items"]
    assert [(e["type"], e["actor"]) for e in deployments] == [("deployed", "dora")]

    # Staff read the history of a case, not everyone's.
    assert rest.get("/history?actor=sam", "alice").status_code == 403
    assert rest.get("/history", "alice").status_code == 403
    assert rest.get("/history?since=not-a-time", "audrey").status_code == 400


def test_verify_detects_a_changed_event(deployed: Rest) -> None:
    rest = deployed
    instance_id, _review = rest.to_review("SC-1")
    intact = rest.get("/history/verify", "audrey").json
    assert intact["ok"] is True and intact["breaks"] == [] and intact["checked"] > 5
    assert rest.get("/history/verify", "alice").status_code == 403

    with rest.engine.db.transaction() as conn:
        conn.execute(
            update(HistoryEvent)
            .where(HistoryEvent.instance_id == instance_id, HistoryEvent.event_type == "task_completed")
            .values(actor="mallory")
        )
    broken = rest.get("/history/verify", "audrey").json
    assert broken["ok"] is False
    assert {b["chain"] for b in broken["breaks"]} == {instance_id}
    assert any("hash" in b["reason"] for b in broken["breaks"])
    only_admin = rest.get("/history/verify?chain=admin", "adam").json
    assert only_admin["ok"] is True
