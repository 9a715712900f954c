"""The engine's runtime commands, driven as staff and operators would, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from engine.actors import Actor
from engine.clock import ManualClock
from engine.engine import Engine
from engine.errors import (
    BadRequest,
    BpmnErrorSignal,
    Conflict,
    Forbidden,
    NotFound,
    ProcessFailed,
    ValidationError,
)
from engine.handler_registry import HandlerContext, HandlerRegistry
from engine.history import GENESIS, event_hash, legacy_event_hash
from engine.models import HistoryEvent, Instance
from engine.paging import PageRequest
from engine.queries import TaskFilter
from tests.conftest import FIXTURES

AGENT = Actor.person("alice", ["agent"])
HANDLER = Actor.person("hank", ["complaint_handler"])
FINANCE = Actor.person("fiona", ["finance"])
AUDITOR = Actor.person("audrey", ["auditor"])


def deploy(engine: Engine, *names: str) -> None:
    engine.deploy_paths([FIXTURES / n for n in names], actor="designer")


def only_task(engine: Engine, instance_id: str) -> dict[str, Any]:
    tasks = engine.queries.tasks(instance_id=instance_id)
    assert len(tasks) == 1, tasks
    return tasks[0]


def event_types(engine: Engine, instance_id: str) -> list[str]:
    return [e["type"] for e in engine.queries.history(instance_id=instance_id)]


@pytest.fixture
def order_handlers(handlers: HandlerRegistry) -> dict[str, int]:
    calls = {"price_order": 0}

    @handlers.handler("price_order")
    def price(ctx: HandlerContext) -> dict[str, Any]:
        calls["price_order"] += 1
        if ctx.variables.get("qty", 0) < 0:
            raise BpmnErrorSignal("BAD_ORDER", "negative quantity", {"reason": "negative"})
        return {"total": ctx.variables["qty"] * 100}

    return calls


def test_case_runs_through_forms_scripts_messages_and_call_activity(
    engine: Engine, clock: ManualClock
) -> None:
    deploy(engine, "child.bpmn", "case.bpmn")
    instance_id = engine.runtime.start(
        actor=AGENT, process_key="case", business_key="C-1", variables={"source": "phone"}
    )

    intake = only_task(engine, instance_id)
    assert (intake["name"], intake["role"], intake["form_key"]) == ("Intake", "agent", "intake")
    engine.runtime.complete_task(intake["id"], {"customer": "ACME", "severity": 5, "channel": "phone"}, AGENT)

    resolve = only_task(engine, instance_id)
    assert resolve["element_id"] == "resolve" and resolve["role"] == "complaint_handler"
    with pytest.raises(Forbidden):
        engine.runtime.complete_task(resolve["id"], {}, AGENT)
    engine.runtime.complete_task(resolve["id"], {"resolution": "refund"}, HANDLER)
    assert engine.queries.tasks(instance_id=instance_id) == []

    clock.advance(timedelta(hours=1))
    touched = engine.runtime.correlate(
        "customer_reply", actor=AGENT, business_key="C-1", variables={"accepted": True}
    )
    assert touched == [instance_id]

    child_task = only_task(engine, instance_id)
    assert child_task["element_id"] == "child_task" and child_task["role"] == "finance"
    engine.runtime.complete_task(child_task["id"], {"paid": True}, FINANCE)

    instance = engine.queries.instance(instance_id)
    assert instance["status"] == "completed"
    assert instance["variables"]["priority"] == "high"  # set by the sandboxed script task
    assert instance["variables"]["accepted"] is True
    types = event_types(engine, instance_id)
    assert types[0] == "instance_started" and types[-1] == "instance_completed"
    assert types.count("task_completed") == 3 and "message_correlated" in types
    completed = next(
        e for e in engine.queries.history(instance_id=instance_id) if e["type"] == "task_completed"
    )
    assert completed["data"]["data"]["severity"] == 5
    assert completed["data"]["changes"]["customer"] == {"from": None, "to": "ACME"}
    assert completed["actor"] == "alice" and completed["element_id"] == "intake"


def test_form_submission_refused_field_by_field_and_nothing_changes(engine: Engine) -> None:
    deploy(engine, "child.bpmn", "case.bpmn")
    instance_id = engine.runtime.start(actor=AGENT, process_key="case")
    task = only_task(engine, instance_id)
    before = event_types(engine, instance_id)
    with pytest.raises(ValidationError) as refused:
        engine.runtime.complete_task(task["id"], {"severity": 9, "channel": "fax", "extra": 1}, AGENT)
    fields = {e.field for e in refused.value.errors}
    assert {"customer", "severity", "channel", "extra"} <= fields
    assert only_task(engine, instance_id)["id"] == task["id"]
    assert event_types(engine, instance_id) == before


def test_user_task_without_form_takes_any_json_object(engine: Engine, order_handlers: dict[str, int]) -> None:
    deploy(engine, "order.bpmn")
    instance_id = engine.runtime.start(actor=AGENT, process_key="order")
    task = only_task(engine, instance_id)
    engine.runtime.complete_task(task["id"], {"qty": 20, "notes": {"any": ["json", 1]}}, AGENT)
    assert engine.queries.instance(instance_id)["variables"]["notes"] == {"any": ["json", 1]}
    with pytest.raises(ValidationError):
        engine.runtime.complete_task(
            only_task(engine, instance_id)["id"], ["not", "an", "object"], Actor.operator()
        )  # type: ignore[arg-type]


def test_deploy_versions_and_running_instances_stay_on_their_version(
    engine: Engine, order_handlers: dict[str, int]
) -> None:
    deploy(engine, "order.bpmn")
    again = engine.deploy_paths([FIXTURES / "order.bpmn"], actor="designer")
    assert [(d.version, d.new) for d in again.definitions] == [(1, False)]
    first = engine.runtime.start(actor=AGENT, process_key="order")

    changed = (FIXTURES / "order.bpmn").read_bytes().replace(b'name="Enter order"', b'name="Enter the order"')
    from engine.bpmn.validation import SourceFile

    report = engine.deployer.deploy([SourceFile("order.bpmn", changed)], actor="designer")
    assert [(d.key, d.version, d.new) for d in report.definitions] == [("order", 2, True)]
    second = engine.runtime.start(actor=AGENT, process_key="order")
    assert only_task(engine, first)["name"] == "Enter order"
    assert only_task(engine, second)["name"] == "Enter the order"
    v1 = engine.queries.definitions("order")[0]["id"]
    by_id = engine.runtime.start(actor=AGENT, definition_id=v1)
    assert only_task(engine, by_id)["name"] == "Enter order"
    deploys = engine.queries.history(event_type="deployed")
    assert len(deploys) == 2 and deploys[0]["actor"] == "designer"


def test_claim_assign_delegate_and_their_history(engine: Engine, order_handlers: dict[str, int]) -> None:
    deploy(engine, "order.bpmn")
    instance_id = engine.runtime.start(actor=AGENT, process_key="order", business_key="O-9")
    task = only_task(engine, instance_id)
    bob = Actor.person("bob", ["agent"])
    engine.runtime.claim(task["id"], AGENT)
    with pytest.raises(Conflict):
        engine.runtime.claim(task["id"], bob)
    with pytest.raises(Forbidden):
        engine.runtime.complete_task(task["id"], {"qty": 1}, bob)
    engine.runtime.unclaim(task["id"], AGENT)
    assert only_task(engine, instance_id)["assignee"] is None
    manager = Actor.person("mia", ["service_manager"])
    engine.runtime.assign(task["id"], "bob", manager)
    engine.runtime.delegate(task["id"], "carol", bob)
    row = only_task(engine, instance_id)
    assert (row["assignee"], row["owner"]) == ("carol", "bob")
    with pytest.raises(Forbidden):
        engine.runtime.claim(task["id"], AUDITOR)
    carol = Actor.person("carol", [])
    engine.runtime.complete_task(task["id"], {"qty": 1}, carol)
    types = event_types(engine, instance_id)
    for expected in ("task_claimed", "task_unclaimed", "task_assigned", "task_delegated", "task_completed"):
        assert expected in types
    by_key = engine.queries.history(business_key="O-9", actor="bob")
    assert [e["type"] for e in by_key] == ["task_delegated"]


def test_an_admin_delegating_someones_task_leaves_them_its_owner(
    engine: Engine, order_handlers: dict[str, int]
) -> None:
    deploy(engine, "order.bpmn")
    instance_id = engine.runtime.start(actor=AGENT, process_key="order")
    task = only_task(engine, instance_id)
    engine.runtime.claim(task["id"], Actor.person("bob", ["agent"]))
    engine.runtime.delegate(task["id"], "carol", Actor.person("ada", ["admin"]))
    row = only_task(engine, instance_id)
    assert (row["assignee"], row["owner"]) == ("carol", "bob")
    [delegated] = engine.queries.history(instance_id=instance_id, event_type="task_delegated")
    assert (delegated["actor"], delegated["data"]) == ("ada", {"to": "carol", "owner": "bob"})


def test_handler_failure_retries_then_incident_then_retry_after_fix(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    state = {"broken": True, "calls": 0}

    @handlers.handler("price_order", retries=1)
    def price(ctx: HandlerContext) -> dict[str, Any]:
        state["calls"] += 1
        if state["broken"]:
            raise RuntimeError("pricing service down")
        return {"total": 5}

    deploy(engine, "order.bpmn")
    instance_id = engine.runtime.start(actor=AGENT, process_key="order")
    engine.runtime.complete_task(only_task(engine, instance_id)["id"], {"qty": 1}, AGENT)
    assert state["calls"] == 2
    instance = engine.queries.instance(instance_id)
    assert instance["incidents"] == 1 and instance["status"] == "running"
    incident = instance["open_incidents"][0]
    assert "pricing service down" in incident["message"] and incident["element_id"] == "price"
    types = event_types(engine, instance_id)
    assert types.count("handler_failed") == 2 and "handler_retried" in types and "incident_raised" in types

    state["broken"] = False
    for not_a_manager in (AGENT, AUDITOR):  # retrying is a case manager's call, whichever way it comes
        with pytest.raises(Forbidden):
            engine.runtime.retry_incident(incident["id"], not_a_manager)
    engine.runtime.retry_incident(incident["id"], Actor.operator("ops"))
    instance = engine.queries.instance(instance_id)
    assert instance["incidents"] == 0 and instance["status"] == "completed"
    assert instance["variables"]["total"] == 5
    assert "incident_resolved" in event_types(engine, instance_id)
    with pytest.raises(Conflict):
        engine.runtime.retry_incident(incident["id"], Actor.operator("ops"))


def test_bpmn_error_from_handler_takes_the_error_boundary(
    engine: Engine, order_handlers: dict[str, int]
) -> None:
    deploy(engine, "order.bpmn")
    instance_id = engine.runtime.start(actor=AGENT, process_key="order")
    engine.runtime.complete_task(only_task(engine, instance_id)["id"], {"qty": -1}, AGENT)
    fix = only_task(engine, instance_id)
    assert fix["element_id"] == "fix"
    assert engine.queries.instance(instance_id)["variables"]["reason"] == "negative"
    assert "bpmn_error" in event_types(engine, instance_id)


def test_cancel_suspend_resume(engine: Engine, order_handlers: dict[str, int]) -> None:
    deploy(engine, "order.bpmn")
    instance_id = engine.runtime.start(actor=AGENT, process_key="order")
    task = only_task(engine, instance_id)
    op = Actor.operator("ops")
    engine.runtime.suspend(instance_id, op)
    with pytest.raises(Conflict):
        engine.runtime.complete_task(task["id"], {"qty": 1}, AGENT)
    # Nor is who has its tasks changed, as in Camunda.
    for command in (
        lambda: engine.runtime.claim(task["id"], AGENT),
        lambda: engine.runtime.assign(task["id"], "alice", op),
        lambda: engine.runtime.delegate(task["id"], "bob", op),
    ):
        with pytest.raises(Conflict, match="suspended; resume it"):
            command()
    assert only_task(engine, instance_id)["assignee"] is None
    with pytest.raises(Conflict):
        engine.runtime.suspend(instance_id, op)
    engine.runtime.resume(instance_id, op)
    with pytest.raises(Forbidden):
        engine.runtime.cancel(instance_id, AUDITOR)
    engine.runtime.cancel(instance_id, op, reason="duplicate")
    instance = engine.queries.instance(instance_id)
    assert instance["status"] == "cancelled" and instance["tasks"] == []
    assert engine.queries.tasks(instance_id=instance_id, state="cancelled")[0]["id"] == task["id"]
    assert event_types(engine, instance_id)[-3:] == [
        "instance_resumed",
        "instance_cancelled",
        "task_cancelled",
    ]
    with pytest.raises(Conflict):
        engine.runtime.complete_task(task["id"], {"qty": 1}, AGENT)


def test_message_start_event_and_unknown_message(engine: Engine) -> None:
    deploy(engine, "started_by_message.bpmn")
    started = engine.runtime.correlate(
        "new_request", actor=AGENT, business_key="R-1", variables={"topic": "billing"}
    )
    assert len(started) == 1
    task = only_task(engine, started[0])
    assert task["element_id"] == "handle" and task["business_key"] == "R-1"
    assert engine.queries.instance(started[0])["variables"]["topic"] == "billing"
    with pytest.raises(NotFound):
        engine.runtime.correlate("nobody_listens", actor=AGENT)


def test_external_task_waits_for_its_worker(engine: Engine) -> None:
    deploy(engine, "external.bpmn")
    instance_id = engine.runtime.start(actor=AGENT, process_key="external_work")
    work = engine.queries.tasks(instance_id=instance_id, kind="external")
    assert len(work) == 1 and work[0]["topic"] == "payments"
    with pytest.raises(BadRequest):
        engine.runtime.complete_task(work[0]["id"], {}, AGENT)
    with pytest.raises(Forbidden):
        engine.runtime.complete_external(work[0]["id"], {"charged": 1}, AUDITOR)
    with pytest.raises(Forbidden):
        engine.runtime.external_bpmn_error(work[0]["id"], BpmnErrorSignal("PAYMENT_FAILED"), AUDITOR)
    assert engine.queries.tasks(instance_id=instance_id, kind="external") == work
    engine.runtime.complete_external(work[0]["id"], {"charged": 42}, Actor.operator("worker-1"))
    check = only_task(engine, instance_id)
    assert check["element_id"] == "check"
    assert engine.queries.instance(instance_id)["variables"]["charged"] == 42


def test_commands_survive_a_cold_cache(engine: Engine, order_handlers: dict[str, int]) -> None:
    """Everything must also work when the live workflow is restored from its rows."""
    deploy(engine, "child.bpmn", "case.bpmn")
    instance_id = engine.runtime.start(actor=AGENT, process_key="case", business_key="C-2")
    engine.store.cache.clear()
    engine.runtime.complete_task(
        only_task(engine, instance_id)["id"], {"customer": "X", "severity": 2}, AGENT
    )
    engine.store.cache.clear()
    engine.runtime.complete_task(only_task(engine, instance_id)["id"], {}, HANDLER)
    engine.store.cache.clear()
    engine.runtime.correlate("customer_reply", actor=AGENT, business_key="C-2")
    engine.store.cache.clear()
    engine.runtime.complete_task(only_task(engine, instance_id)["id"], {}, FINANCE)
    instance = engine.queries.instance(instance_id)
    assert instance["status"] == "completed" and instance["variables"]["priority"] == "normal"


def test_history_is_tamper_evident(engine: Engine, order_handlers: dict[str, int]) -> None:
    deploy(engine, "order.bpmn")
    instance_id = engine.runtime.start(actor=AGENT, process_key="order")
    engine.runtime.complete_task(only_task(engine, instance_id)["id"], {"qty": 2}, AGENT)
    checked, breaks = engine.queries.verify_history()
    assert checked > 5 and breaks == []

    from sqlalchemy import text

    with engine.db.transaction() as conn:
        conn.execute(
            text(
                "UPDATE history_events SET data = :d WHERE instance_id = :i AND event_type = 'task_completed'"
            ),
            {"d": '{"data":{"qty":2000}}', "i": instance_id},
        )
    _, breaks = engine.queries.verify_history()
    assert [b.reason for b in breaks] == ["content does not match its hash"]

    with engine.db.transaction() as conn:
        last = conn.execute(
            text("SELECT max(seq) FROM history_events WHERE chain = :i"), {"i": instance_id}
        ).scalar_one()
        conn.execute(
            text("DELETE FROM history_events WHERE chain = :i AND seq = :s"), {"i": instance_id, "s": last}
        )
    _, breaks = engine.queries.verify_history()
    assert any("last event is missing" in b.reason for b in breaks)


def test_text_moved_across_field_boundaries_breaks_the_hash(engine: Engine) -> None:
    deploy(engine, "external.bpmn")
    instance_id = engine.runtime.start(actor=AGENT, process_key="external_work", business_key="C-1|order")
    with engine.db.transaction() as conn:
        first = conn.execute(
            select(HistoryEvent.id, HistoryEvent.definition_id).where(
                HistoryEvent.chain == instance_id, HistoryEvent.seq == 1
            )
        ).one()
        # "C-1|order" + "<definition>" read the same as "C-1" + "order|<definition>" joined with "|".
        conn.execute(
            update(HistoryEvent)
            .where(HistoryEvent.id == first.id)
            .values(business_key="C-1", definition_id="order|" + first.definition_id)
        )
    _, breaks = engine.queries.verify_history()
    assert [(b.seq, b.reason) for b in breaks] == [(1, "content does not match its hash")]


def _rehash_with_the_first_scheme(engine: Engine, chain: str, seqs: range) -> None:
    """Rewrite events as a release before the current hash scheme would have written them."""
    with engine.db.transaction() as conn:
        rows = conn.execute(
            select(HistoryEvent).where(HistoryEvent.chain == chain).order_by(HistoryEvent.seq)
        ).mappings().all()
        prev = GENESIS
        for row in rows:
            if row["prev_hash"] != prev or row["seq"] in seqs:
                digest = legacy_event_hash(prev, row) if row["seq"] in seqs else event_hash(prev, row)
                rewritten = update(HistoryEvent).where(HistoryEvent.id == row["id"])
                conn.execute(rewritten.values(prev_hash=prev, hash=digest))
                prev = digest
            else:
                prev = row["hash"]
        conn.execute(update(Instance).where(Instance.id == chain).values(history_head=prev))


def test_events_of_the_first_hash_scheme_verify_only_ahead_of_the_current_one(
    engine: Engine, order_handlers: dict[str, int]
) -> None:
    deploy(engine, "order.bpmn")
    instance_id = engine.runtime.start(actor=AGENT, process_key="order")
    engine.runtime.complete_task(only_task(engine, instance_id)["id"], {"qty": 2}, AGENT)
    last = len(engine.queries.history(instance_id=instance_id))
    assert last > 4

    # Written by the earlier release, then carried on by this one: verifies.
    _rehash_with_the_first_scheme(engine, instance_id, range(1, 4))
    assert engine.queries.verify_history()[1] == []

    # A first-scheme hash after a current one cannot be told from a forgery: reported.
    _rehash_with_the_first_scheme(engine, instance_id, range(last, last + 1))
    _, breaks = engine.queries.verify_history()
    assert [(b.seq, b.reason) for b in breaks] == [(last, "content does not match its hash")]


def test_history_queries_by_time_range(
    engine: Engine, clock: ManualClock, order_handlers: dict[str, int]
) -> None:
    deploy(engine, "order.bpmn")
    start = clock.now()
    first = engine.runtime.start(actor=AGENT, process_key="order")
    clock.advance(timedelta(days=2))
    second = engine.runtime.start(actor=AGENT, process_key="order")
    window = engine.queries.history(since=start + timedelta(days=1), until=start + timedelta(days=3))
    assert {e["instance_id"] for e in window} == {second}
    assert all(e["instance_id"] != first for e in window)


def test_message_start_takes_only_its_own_path(engine: Engine) -> None:
    deploy(engine, "two_starts.bpmn")
    [by_message] = engine.runtime.correlate(
        "reopen_request", actor=AGENT, business_key="R-2", variables={"n": 1}
    )
    assert [t["element_id"] for t in engine.queries.tasks(instance_id=by_message)] == ["reopened"]
    by_hand = engine.runtime.start(actor=AGENT, process_key="two_starts")
    assert [t["element_id"] for t in engine.queries.tasks(instance_id=by_hand)] == ["fresh"]
    engine.runtime.complete_task(only_task(engine, by_message)["id"], {}, AGENT)
    assert engine.queries.instance(by_message)["status"] == "completed"


def test_external_tasks_are_not_claimed_assigned_or_delegated_by_people(engine: Engine) -> None:
    deploy(engine, "external.bpmn")
    instance_id = engine.runtime.start(actor=AGENT, process_key="external_work")
    [work] = engine.queries.tasks(instance_id=instance_id, kind="external")
    anyone = Actor.person("tess", ["technician"])
    for command in (
        lambda: engine.runtime.claim(work["id"], anyone),
        lambda: engine.runtime.unclaim(work["id"], anyone),
        lambda: engine.runtime.assign(work["id"], "tess", Actor.operator()),
        lambda: engine.runtime.delegate(work["id"], "tess", Actor.operator()),
    ):
        with pytest.raises(BadRequest, match="its worker works on it"):
            command()
    assert engine.queries.tasks(instance_id=instance_id, kind="external") == [work]
    assert not {"task_claimed", "task_assigned", "task_delegated"} & set(event_types(engine, instance_id))


def test_a_task_naming_only_candidate_users_is_theirs_alone(engine: Engine) -> None:
    deploy(engine, "camunda_style.bpmn")
    instance_id = engine.runtime.start(
        actor=Actor.operator(),
        process_key="camunda_style",
        variables={"owner": "mia", "due": "2026-02-01T12:00:00+00:00", "severity": 5},
    )
    approve = only_task(engine, instance_id)
    engine.runtime.complete_task(approve["id"], {"customer": "ACME", "severity": 5}, Actor.person("mia", []))
    check = only_task(engine, instance_id)
    assert (check["role"], check["candidate_users"]) == (None, ["dora", "dan"])

    eve = Actor.person("eve", ["agent"])
    with pytest.raises(Forbidden, match="candidate users"):
        engine.runtime.claim(check["id"], eve)
    with pytest.raises(Forbidden, match="candidate users"):
        engine.runtime.complete_task(check["id"], {}, eve)

    def claimable(user: str, roles: tuple[str, ...]) -> list[str]:
        page = engine.queries.task_page(TaskFilter(claimable_by=(user, roles)), PageRequest())
        return [task["id"] for task in page.items]

    assert claimable("eve", ("agent",)) == []
    assert claimable("dan", ()) == [check["id"]]
    assert claimable("Dan", ()) == []  # another user: names count case, on SQLite too
    engine.runtime.claim(check["id"], Actor.person("dan", []))


def test_correlation_passes_over_suspended_instances(engine: Engine) -> None:
    deploy(engine, "wait_for_ping.bpmn")
    suspended = engine.runtime.start(actor=AGENT, process_key="wait_for_ping", business_key="K")
    active = engine.runtime.start(actor=AGENT, process_key="wait_for_ping", business_key="K")
    engine.runtime.suspend(suspended, Actor.operator())

    assert engine.runtime.correlate("ping", actor=AGENT, business_key="K", all_instances=True) == [active]
    assert "message_correlated" not in event_types(engine, suspended)

    # Only the suspended one waits now: refused with the reason, not "nobody waits".
    with pytest.raises(Conflict, match="Only suspended instances wait"):
        engine.runtime.correlate("ping", actor=AGENT, business_key="K")
    engine.runtime.resume(suspended, Actor.operator())
    assert engine.runtime.correlate("ping", actor=AGENT, business_key="K") == [suspended]


@pytest.fixture
def flaky(handlers: HandlerRegistry) -> None:
    @handlers.handler("flaky", retries=0)
    def always_down(ctx: HandlerContext) -> dict[str, Any]:
        raise RuntimeError("down")


def test_an_incident_ends_with_its_task(engine: Engine, flaky: None) -> None:
    deploy(engine, "flaky_until_stopped.bpmn")
    instance_id = engine.runtime.start(actor=AGENT, process_key="flaky_until_stopped", business_key="T1")
    [incident] = engine.queries.instance(instance_id)["open_incidents"]

    # The boundary event ends the failed task: nothing is left to retry.
    engine.runtime.correlate("stop_it", actor=AGENT, business_key="T1")
    assert engine.queries.instance(instance_id)["incidents"] == 0
    assert engine.queries.incident(incident["id"])["state"] == "resolved"
    resolved = engine.queries.history(instance_id=instance_id, event_type="incident_resolved")
    assert [e["data"] for e in resolved] == [{"incident_id": incident["id"], "by": "task_ended"}]
    engine.runtime.complete_task(only_task(engine, instance_id)["id"], {}, AGENT)
    assert engine.queries.instance(instance_id)["status"] == "completed"
    assert engine.queries.verify_history()[1] == []


def test_cancelling_resolves_incidents_in_the_history(engine: Engine, flaky: None) -> None:
    deploy(engine, "flaky_until_stopped.bpmn")
    instance_id = engine.runtime.start(actor=AGENT, process_key="flaky_until_stopped")
    [incident] = engine.queries.instance(instance_id)["open_incidents"]
    engine.runtime.cancel(instance_id, Actor.operator("ops"), "duplicate")

    stored = engine.queries.incident(incident["id"])
    assert (stored["state"], stored["resolved_by"]) == ("resolved", "ops")
    assert engine.queries.instance(instance_id)["incidents"] == 0
    resolved = engine.queries.history(instance_id=instance_id, event_type="incident_resolved")
    assert [(e["actor"], e["data"]) for e in resolved] == [
        ("ops", {"incident_id": incident["id"], "by": "instance_cancelled"})
    ]


def test_every_candidate_group_may_take_the_task(engine: Engine) -> None:
    # camunda_style's first task names candidateGroups="service_manager,director".
    deploy(engine, "camunda_style.bpmn")
    instance_id = engine.runtime.start(
        actor=Actor.operator(),
        process_key="camunda_style",
        variables={"owner": "mia", "due": "2026-02-01T12:00:00+00:00", "severity": 5},
    )
    approve = only_task(engine, instance_id)
    assert approve["role"] == "service_manager"
    assert approve["candidate_groups"] == ["service_manager", "director"]
    engine.runtime.assign(approve["id"], None, Actor.operator())

    def claimable(user: str, roles: tuple[str, ...]) -> list[str]:
        page = engine.queries.task_page(TaskFilter(claimable_by=(user, roles)), PageRequest())
        return [task["id"] for task in page.items]

    assert claimable("dora", ("director",)) == [approve["id"]]
    assert claimable("sam", ("service_manager",)) == [approve["id"]]
    assert claimable("alice", ("agent",)) == []
    with pytest.raises(Forbidden, match="roles director, service_manager"):
        engine.runtime.claim(approve["id"], AGENT)
    engine.runtime.claim(approve["id"], Actor.person("dora", ["director"]))
    assert only_task(engine, instance_id)["assignee"] == "dora"


def test_a_case_stalled_on_a_missing_variable_is_repaired_by_setting_it(engine: Engine) -> None:
    deploy(engine, "decide_on_flag.bpmn")
    instance_id = engine.runtime.start(actor=AGENT, process_key="decide_on_flag", variables={"note": "x"})
    review = only_task(engine, instance_id)
    with pytest.raises(ProcessFailed, match="flag == True"):
        engine.runtime.complete_task(review["id"], {}, AGENT)
    assert only_task(engine, instance_id)["id"] == review["id"]  # refused, nothing applied

    manager = Actor.person("sam", ["service_manager"])
    for refused in (AGENT, AUDITOR):
        with pytest.raises(Forbidden):
            engine.runtime.change_variables(instance_id, refused, {"flag": False})
    with pytest.raises(ValidationError, match="both set and removed"):
        engine.runtime.change_variables(instance_id, manager, {"flag": False}, ["flag"])
    with pytest.raises(ValidationError, match="valid variable name"):
        engine.runtime.change_variables(instance_id, manager, {"_hidden": 1})
    with pytest.raises(ValidationError, match="Nothing to change"):
        engine.runtime.change_variables(instance_id, manager, {}, [])
    with pytest.raises(NotFound):
        engine.runtime.change_variables("no-such-instance", manager, {"flag": False})
    assert "variables_changed" not in event_types(engine, instance_id)

    change = engine.runtime.change_variables(instance_id, manager, {"flag": False}, ["note", "absent"])
    assert (change.set, change.removed, change.previous) == ({"flag": False}, ["note"], {"note": "x"})
    assert engine.queries.instance(instance_id)["variables"] == {"flag": False}
    [event] = engine.queries.history(instance_id=instance_id, event_type="variables_changed")
    assert event["actor"] == "sam"
    assert event["data"] == {"set": {"flag": False}, "removed": ["note"], "previous": {"note": "x"}}

    engine.store.cache.clear()  # the change was stored, not only made in memory
    engine.runtime.complete_task(review["id"], {}, AGENT)
    finished = engine.queries.instance(instance_id)
    assert finished["status"] == "completed" and finished["variables"] == {"flag": False}
    with pytest.raises(Conflict, match="completed"):
        engine.runtime.change_variables(instance_id, manager, {"flag": True})
    assert engine.queries.verify_history()[1] == []


@pytest.mark.parametrize("cold", [False, True])
def test_a_variable_change_holds_on_every_branch_and_through_the_join(engine: Engine, cold: bool) -> None:
    deploy(engine, "branches_to_repair.bpmn")
    variables = {"bad": "x", "cfg": {"a": 1, "b": 2}}
    instance_id = engine.runtime.start(actor=AGENT, process_key="branches_to_repair", variables=variables)

    def task(element: str) -> dict[str, Any]:
        return next(t for t in engine.queries.tasks(instance_id=instance_id) if t["element_id"] == element)

    engine.runtime.complete_task(task("side")["id"], {}, AGENT)  # its branch waits at the join
    engine.runtime.complete_task(task("inner1")["id"], {"y": "bad"}, AGENT)  # held inside the subprocess
    manager = Actor.person("sam", ["service_manager"])
    change = engine.runtime.change_variables(instance_id, manager, {"cfg": {"a": 1}}, ["bad", "y"])
    assert change.removed == ["bad", "y"]
    assert change.previous == {"bad": "x", "y": "bad", "cfg": {"a": 1, "b": 2}}
    [event] = engine.queries.history(instance_id=instance_id, event_type="variables_changed")
    assert event["data"]["removed"] == ["bad", "y"]
    if cold:
        engine.store.cache.clear()

    engine.runtime.complete_task(task("inner2")["id"], {}, AGENT)  # the subprocess ends, the join fires
    assert engine.queries.instance(instance_id)["variables"] == {"cfg": {"a": 1}}
    engine.runtime.complete_task(task("after")["id"], {}, AGENT)
    finished = engine.queries.instance(instance_id)
    assert finished["status"] == "completed" and finished["variables"] == {"cfg": {"a": 1}}

    # A second change that changes nothing records nothing.
    with pytest.raises(Conflict):
        engine.runtime.change_variables(instance_id, manager, {"cfg": {"a": 1}})


def test_text_no_store_can_keep_is_refused_before_anything_starts(engine: Engine) -> None:
    # A lone surrogate: what a command line hands over for bytes that are not UTF-8.
    deploy(engine, "decide_on_flag.bpmn")
    with pytest.raises(ValidationError, match="lone UTF-16 surrogate"):
        engine.runtime.start(actor=AGENT, process_key="decide_on_flag", business_key="K-\udcff")
    with pytest.raises(ValidationError, match="lone UTF-16 surrogate"):
        engine.runtime.start(actor=AGENT, process_key="decide_on_flag", variables={"note": "\ud800"})
    assert engine.queries.count_instances() == 0


def test_a_value_only_a_finished_step_holds_is_removed_without_copying_it_to_the_history(
    engine: Engine,
) -> None:
    deploy(engine, "scratch_variable.bpmn")
    instance_id = engine.runtime.start(actor=AGENT, process_key="scratch_variable")
    engine.runtime.complete_task(only_task(engine, instance_id)["id"], {"scratch": "draft", "x": 1}, AGENT)
    assert engine.queries.instance(instance_id)["variables"] == {"x": 1}  # the script dropped it

    manager = Actor.person("sam", ["service_manager"])
    change = engine.runtime.change_variables(instance_id, manager, None, ["scratch"])
    assert (change.removed, change.previous) == (["scratch"], {})
    [event] = engine.queries.history(instance_id=instance_id, event_type="variables_changed")
    assert event["data"] == {"set": {}, "removed": ["scratch"], "previous": {}}
    assert engine.runtime.change_variables(instance_id, manager, None, ["scratch"]).changed is False
    assert len(engine.queries.history(instance_id=instance_id, event_type="variables_changed")) == 1
