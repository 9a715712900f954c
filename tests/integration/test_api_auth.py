"""Signing in over HTTP: bearer tokens (issued, listed, revoked, expired), HTTP Basic, browser
sessions with CSRF protection, and the slowdown of repeated failed logins."""

from __future__ import annotations

import base64
from datetime import timedelta

from tests.integration.rest_support import PASSWORD, Rest, rest

__all__ = ["rest"]


def basic(name: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


def test_token_is_issued_listed_used_and_revoked(rest: Rest) -> None:
    issued = rest.post(
        "/tokens", None, json={"name": "alice", "password": PASSWORD, "label": "laptop", "expires_in_days": 7}
    )
    assert issued.status_code == 201, issued.json
    token = issued.json["token"]
    assert token.startswith("crm_") and issued.json["label"] == "laptop"
    assert issued.json["expires_at"].startswith((rest.clock.now() + timedelta(days=7)).date().isoformat())
    headers = {"Authorization": f"Bearer {token}"}

    me = rest.get("/me", None, headers=headers)
    assert me.status_code == 200
    assert me.json == {
        "name": "alice",
        "display_name": None,
        "email": None,
        "roles": ["agent"],
        "authenticated_by": "bearer",
    }

    listed = rest.get("/tokens", None, headers=headers).json
    assert {t["label"] for t in listed} == {"tests", "laptop"}
    assert all("token" not in t for t in listed)
    # The stored row holds a hash, never the token.
    alice = rest.users.account_by_name("alice")
    assert alice is not None and token not in str(rest.users.tokens(alice.actor, "alice"))

    revoked = rest.delete(f"/tokens/{issued.json['id']}", None, headers=headers)
    assert revoked.status_code == 200 and revoked.json["revoked_by"] == "alice"
    refused = rest.get("/me", None, headers=headers)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert refused.mimetype == "application/problem+json"


def test_expired_token_is_refused(rest: Rest) -> None:
    token = rest.post(
        "/tokens", None, json={"name": "alice", "password": PASSWORD, "expires_in_days": 1}
    ).json["token"]
    assert rest.get("/me", None, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    rest.clock.advance(timedelta(days=1, seconds=1))
    assert rest.get("/me", None, headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_only_admins_revoke_other_peoples_tokens_and_auditors_list_them(rest: Rest) -> None:
    alices = rest.get("/tokens").json[0]
    assert rest.delete(f"/tokens/{alices['id']}", "sam").status_code == 403
    assert rest.get("/tokens?user=alice", "sam").status_code == 403
    assert [t["id"] for t in rest.get("/tokens?user=alice", "audrey").json] == [alices["id"]]
    assert len(rest.get("/tokens?user=*", "audrey").json) == len(rest.tokens)
    assert rest.delete(f"/tokens/{alices['id']}", "audrey").status_code == 403
    assert rest.delete(f"/tokens/{alices['id']}", "adam").status_code == 200
    assert rest.get("/me").status_code == 401
    assert rest.delete("/tokens/no-such-token", "adam").status_code == 404
    events = rest.engine.queries.history(event_type="token_revoked")
    assert [(e["actor"], e["data"]["user"]) for e in events] == [("adam", "alice")]


def test_wrong_password_and_unknown_user_get_the_same_answer(rest: Rest) -> None:
    wrong = rest.post("/tokens", None, json={"name": "alice", "password": "not it at all"})
    unknown = rest.post("/tokens", None, json={"name": "nobody", "password": "not it at all"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json["detail"] == unknown.json["detail"] == "Invalid user name or password"


def test_repeated_failed_logins_are_slowed_down(rest: Rest) -> None:
    bad = {"name": "alice", "password": "guess guess"}
    statuses = [rest.post("/tokens", None, json=bad).status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    blocked = rest.post("/tokens", None, json={"name": "alice", "password": PASSWORD})
    assert blocked.status_code == 429
    assert blocked.headers["Retry-After"] == "1"
    assert blocked.json["retry_after"] == 1
    # The wait doubles with each further failure.
    rest.clock.advance(timedelta(seconds=1))
    assert rest.post("/tokens", None, json=bad).status_code == 401
    again = rest.post("/tokens", None, json=bad)
    assert again.status_code == 429 and again.headers["Retry-After"] == "2"
    # Another user is not affected; after the wait the right password works and resets the count.
    assert rest.post("/tokens", None, json={"name": "carl", "password": PASSWORD}).status_code == 201
    rest.clock.advance(timedelta(seconds=2))
    assert rest.post("/tokens", None, json={"name": "alice", "password": PASSWORD}).status_code == 201
    assert rest.post("/tokens", None, json=bad).status_code == 401


def test_basic_authentication_and_its_throttle(rest: Rest) -> None:
    me = rest.get("/me", None, headers=basic("carl", PASSWORD))
    assert me.status_code == 200 and me.json["authenticated_by"] == "basic"
    for _ in range(3):
        assert rest.get("/me", None, headers=basic("dan", "wrong password")).status_code == 401
    throttled = rest.get("/me", None, headers=basic("dan", PASSWORD))
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"
    # Verified credentials are remembered (no Argon2 per request), but never past the throttle.
    for _ in range(3):
        rest.get("/me", None, headers=basic("carl", "wrong password"))
    assert rest.get("/me", None, headers=basic("carl", PASSWORD)).status_code == 429
    rest.clock.advance(timedelta(seconds=1))
    assert rest.get("/me", None, headers=basic("carl", PASSWORD)).status_code == 200


def test_malformed_or_unknown_authorization_is_refused(rest: Rest) -> None:
    for header in ("Bearer", "Bearer crm_nope", "Basic !!!", "Digest username=x", "Basic " + "A" * 5000):
        response = rest.get("/me", None, headers={"Authorization": header})
        assert response.status_code == 401, header
    assert rest.get("/me", None, headers=basic("no\x01body", "x")).status_code == 401
    assert rest.get("/me", None).status_code == 401


def test_session_login_csrf_and_logout(rest: Rest) -> None:
    client = rest.browser()
    assert client.post("/api/v1/session", json={"name": "alice", "password": "wrong one"}).status_code == 401
    signed_in = client.post("/api/v1/session", json={"name": "alice", "password": PASSWORD})
    assert signed_in.status_code == 200
    csrf = signed_in.json["csrf_token"]
    assert signed_in.json["user"] == "alice" and signed_in.json["roles"] == ["agent"]
    cookie = signed_in.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie

    assert client.get("/api/v1/me").json["authenticated_by"] == "session"
    body = {"process_key": "nothing-deployed"}
    no_token = client.post("/api/v1/instances", json=body)
    assert no_token.status_code == 403 and "CSRF" in no_token.json["detail"]
    wrong_token = client.post("/api/v1/instances", json=body, headers={"X-CSRF-Token": "x" + csrf})
    assert wrong_token.status_code == 403
    # With the token the request goes through to the engine (which has nothing deployed).
    assert client.post("/api/v1/instances", json=body, headers={"X-CSRF-Token": csrf}).status_code == 404

    assert client.get("/api/v1/session").json["csrf_token"] == csrf
    assert client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/api/v1/me").status_code == 401


def test_a_copy_of_the_session_cookie_is_worth_nothing_after_signing_out(rest: Rest) -> None:
    client = rest.browser()
    csrf = client.post("/api/v1/session", json={"name": "alice", "password": PASSWORD}).json["csrf_token"]
    stolen = client.client.get_cookie("session")
    assert stolen is not None
    assert client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf}).status_code == 204

    replay = rest.browser()
    replay.client.set_cookie("session", stolen.value)
    assert replay.get("/api/v1/me").status_code == 401
    assert replay.post("/api/v1/instances", json={}, headers={"X-CSRF-Token": csrf}).status_code == 401


def test_a_session_ends_after_its_lifetime_whatever_the_cookie_says(rest: Rest) -> None:
    client = rest.browser()
    client.post("/api/v1/session", json={"name": "alice", "password": PASSWORD})
    rest.clock.advance(timedelta(hours=11, minutes=59))
    assert client.get("/api/v1/me").status_code == 200
    rest.clock.advance(timedelta(minutes=2))
    assert client.get("/api/v1/me").status_code == 401
    # Signing in again starts a new session.
    client.post("/api/v1/session", json={"name": "alice", "password": PASSWORD})
    assert client.get("/api/v1/me").json["authenticated_by"] == "session"


def test_password_change_and_disabling_end_sessions(rest: Rest) -> None:
    client = rest.browser()
    csrf = client.post("/api/v1/session", json={"name": "alice", "password": PASSWORD}).json["csrf_token"]
    headers = {"X-CSRF-Token": csrf}
    refused = client.post(
        "/api/v1/me/password",
        json={"old_password": "not mine", "new_password": "a new secret"},
        headers=headers,
    )
    assert refused.status_code == 403
    changed = client.post(
        "/api/v1/me/password",
        json={"old_password": PASSWORD, "new_password": "a new secret"},
        headers=headers,
    )
    assert changed.status_code == 204
    assert client.get("/api/v1/me").status_code == 401
    assert rest.post("/tokens", None, json={"name": "alice", "password": PASSWORD}).status_code == 401
    assert rest.post("/tokens", None, json={"name": "alice", "password": "a new secret"}).status_code == 201

    client.post("/api/v1/session", json={"name": "carl", "password": PASSWORD})
    assert client.get("/api/v1/me").status_code == 200
    assert rest.patch("/users/carl", json={"active": False}).status_code == 200
    assert client.get("/api/v1/me").status_code == 401
    assert rest.get("/me", "carl").status_code == 401
    disabled = rest.post("/tokens", None, json={"name": "carl", "password": PASSWORD})
    assert disabled.status_code == 403 and "disabled" in disabled.json["detail"]


def test_public_endpoints_need_no_credentials(rest: Rest) -> None:
    assert rest.get("/openapi.json", None).status_code == 200
    for path in ("/definitions", "/instances", "/tasks", "/users", "/roles", "/incidents", "/history"):
        response = rest.get(path, None)
        assert response.status_code == 401, path
        assert response.json["title"] == "Unauthorized"
