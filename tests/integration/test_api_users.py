"""Administering people over HTTP and at the command line; every change in the admin history."""

from __future__ import annotations

import subprocess
import sys

from engine.actors import BUILTIN_ROLES
from tests.conftest import ROOT
from tests.integration.rest_support import Rest, rest

__all__ = ["rest"]


def admin_events(rest: Rest) -> list[tuple[str, str, dict[str, object]]]:
    events = rest.get("/history?chain=admin&limit=1000", "audrey").json["items"]
    return [(e["type"], e["actor"], e["data"]) for e in events]


def test_admin_creates_changes_and_disables_a_user(rest: Rest) -> None:
    created = rest.post(
        "/users",
        "adam",
        json={
            "name": "nina",
            "password": "a long password",
            "roles": ["agent", "finance"],
            "display_name": "Nina",
        },
    )
    assert created.status_code == 201, created.json
    assert created.headers["Location"].endswith("/api/v1/users/nina")
    assert created.json["roles"] == ["agent", "finance"] and created.json["active"] is True
    assert "password" not in str(created.json)

    changed = rest.patch("/users/nina", json={"roles": ["dispatcher"], "email": "nina@example.com"})
    assert changed.status_code == 200
    assert changed.json["roles"] == ["dispatcher"] and changed.json["email"] == "nina@example.com"
    unchanged = rest.patch("/users/nina", json={"roles": ["dispatcher"]})
    assert unchanged.status_code == 200
    assert rest.patch("/users/nina", json={"password": "another secret"}).status_code == 200
    assert rest.post("/tokens", None, json={"name": "nina", "password": "another secret"}).status_code == 201
    assert rest.patch("/users/nina", json={"active": False}).json["active"] is False

    events = [e for e in admin_events(rest) if e[2].get("user") == "nina"]
    assert [(t, a) for t, a, _ in events] == [
        ("user_created", "adam"),
        ("user_updated", "adam"),
        ("user_updated", "adam"),
        ("token_issued", "nina"),
        ("user_updated", "adam"),
    ]
    assert events[1][2]["changes"] == {
        "email": {"from": None, "to": "nina@example.com"},
        "roles": {"from": ["agent", "finance"], "to": ["dispatcher"]},
    }
    assert events[2][2]["changes"] == {"password": "changed"}
    assert "another secret" not in str(events)
    assert rest.get("/history/verify?chain=admin", "audrey").json["ok"] is True


def test_user_input_is_checked_field_by_field(rest: Rest) -> None:
    bad = rest.post("/users", "adam", json={"name": "has space", "password": "short", "roles": ["wizard"]})
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json["errors"]}
    assert {"name", "password"} <= fields
    unknown_role = rest.post(
        "/users", "adam", json={"name": "olga", "password": "long enough", "roles": ["wizard"]}
    )
    assert unknown_role.status_code == 422
    assert unknown_role.json["errors"] == [
        {"field": "roles", "message": "'wizard' is not a role; an admin creates it first"}
    ]
    duplicate = rest.post("/users", "adam", json={"name": "ALICE", "password": "long enough", "roles": []})
    assert duplicate.status_code == 409
    assert rest.patch("/users/nobody", json={"active": False}).status_code == 404
    assert rest.patch("/users/alice", json={"active": "no"}).status_code == 422
    assert rest.patch("/users/alice", json={"salary": 1}).status_code == 422
    assert rest.get("/users?limit=1&sort=-name", "audrey").json["items"][0]["name"] == "tess"


def test_the_last_admin_cannot_be_removed(rest: Rest) -> None:
    refused = rest.patch("/users/adam", json={"roles": ["agent"]})
    assert refused.status_code == 409 and "no active admin" in refused.json["detail"]
    assert rest.patch("/users/adam", json={"active": False}).status_code == 409
    assert rest.get("/users/adam", "adam").json["roles"] == ["admin"]
    assert rest.patch("/users/sam", json={"roles": ["service_manager", "admin"]}).status_code == 200
    assert rest.patch("/users/adam", json={"roles": ["agent"]}).status_code == 200


def test_people_see_themselves_auditors_see_everyone(rest: Rest) -> None:
    assert rest.get("/users/alice", "alice").status_code == 200
    assert rest.get("/users/carl", "alice").status_code == 403
    assert rest.get("/users/carl", "audrey").json["roles"] == ["complaint_handler"]
    assert rest.get("/users/nobody", "audrey").status_code == 404
    listed = rest.get("/users?role=agent", "audrey").json
    assert [u["name"] for u in listed["items"]] == ["alice"] and listed["total"] == 1
    assert rest.patch("/users/alice", "audrey", json={"active": False}).status_code == 403


def test_roles_are_listed_created_and_deleted(rest: Rest) -> None:
    roles = {r["name"]: r for r in rest.get("/roles").json}
    assert set(roles) == set(BUILTIN_ROLES)
    assert roles["agent"]["members"] == 1 and roles["agent"]["builtin"] is True

    created = rest.post("/roles", "adam", json={"name": "quality_inspector", "description": "Checks repairs"})
    assert created.status_code == 201 and created.json["builtin"] is False
    assert rest.post("/roles", "adam", json={"name": "quality_inspector"}).status_code == 409
    assert rest.post("/roles", "adam", json={"name": "Bad Name"}).status_code == 422
    assert rest.patch("/users/tess", json={"roles": ["technician", "quality_inspector"]}).status_code == 200
    held = rest.delete("/roles/quality_inspector", "adam")
    assert held.status_code == 409 and "tess" in held.json["detail"]
    assert rest.delete("/roles/agent", "adam").status_code == 409
    assert rest.patch("/users/tess", json={"roles": ["technician"]}).status_code == 200
    assert rest.delete("/roles/quality_inspector", "adam").status_code == 204
    assert rest.delete("/roles/quality_inspector", "adam").status_code == 404
    types = [t for t, _, data in admin_events(rest) if data.get("role") == "quality_inspector"]
    assert types == ["role_created", "role_deleted"]


def test_create_user_command_reads_the_password_from_stdin(db_url: str) -> None:
    env = {"DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "api",
            "create-user",
            "olive",
            "--role",
            "agent,finance",
            "--role",
            "auditor",
            "--display-name",
            "Olive",
        ],
        input="a piped secret\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Created user olive with roles: agent, auditor, finance" in result.stdout

    again = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "api", "create-user", "olive", "--role", "agent"],
        input="a piped secret\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert again.returncode == 1 and "already exists" in again.stderr
    bad_role = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "api", "create-user", "pete", "--role", "wizard"],
        input="a piped secret\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert bad_role.returncode == 1 and "wizard" in bad_role.stderr

    from api import create_app

    app = create_app({"DATABASE_URL": db_url})
    directory = app.extensions["users"]
    account = directory.authenticate("olive", "a piped secret")
    assert account.roles == {"agent", "finance", "auditor"}
    assert directory.account_by_name("pete") is None
    events = app.extensions["engine"].queries.history(event_type="user_created")
    assert [(e["actor"], e["data"]["user"]) for e in events] == [("operator", "olive")]
    app.extensions["engine"].close()


def test_a_known_user_at_the_command_line_acts_with_their_roles(rest: Rest) -> None:
    from api.actors import resolve_actor_by_name

    with rest.app.app_context():
        audrey = resolve_actor_by_name("audrey")
        stranger = resolve_actor_by_name("ops-on-call")
        nobody = resolve_actor_by_name(None)
    assert (audrey.roles, audrey.system, audrey.read_only) == ({"auditor"}, False, True)
    assert (stranger.name, stranger.system) == ("ops-on-call", True)
    assert (nobody.name, nobody.system) == ("operator", True)
