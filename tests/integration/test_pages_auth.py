"""Signing in and out of the pages: the session cookie, CSRF on every form, where people land."""

from __future__ import annotations

from tests.integration.pages_support import Site, csrf_of, site, text
from tests.integration.rest_support import PASSWORD

__all__ = ["site"]


def test_signed_out_people_are_sent_to_the_sign_in_page_and_back(site: Site) -> None:
    browser = site.browser()
    for path in ("/", "/inbox", "/cases", "/start", "/alarms", "/designer"):
        response = browser.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next="), path
    page = browser.get("/login?next=/cases")
    assert page.status_code == 200
    assert 'autocomplete="current-password"' in text(page) and 'value="/cases"' in text(page)

    signed_in = browser.client.post(
        "/login", data={"name": "alice", "password": PASSWORD, "next": "/cases", "csrf_token": csrf_of(page)}
    )
    assert (signed_in.status_code, signed_in.headers["Location"]) == (303, "/cases")
    assert browser.get("/cases").status_code == 200


def test_each_role_lands_on_its_own_page(site: Site) -> None:
    for who, home in (("alice", "/inbox"), ("sam", "/inbox"), ("audrey", "/cases"), ("dora", "/designer")):
        browser = site.browser()
        response = browser.sign_in(who)
        assert response.headers["Location"] == home, who
        assert browser.get("/").headers["Location"] == home, who


def test_the_sign_in_form_needs_its_csrf_token_and_the_right_password(site: Site) -> None:
    browser = site.browser()
    token = csrf_of(browser.get("/login"))
    forged = browser.client.post("/login", data={"name": "alice", "password": PASSWORD})
    assert forged.status_code == 403 and "CSRF" in text(forged)
    wrong = browser.client.post("/login", data={"name": "alice", "password": "not it", "csrf_token": token})
    assert wrong.status_code == 401
    assert "Invalid user name or password" in text(wrong) and 'value="alice"' in text(wrong)
    assert browser.get("/inbox").status_code == 302  # still signed out


def test_a_redirect_after_sign_in_never_leaves_the_site(site: Site) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
        browser = site.browser()
        token = csrf_of(browser.get("/login"))
        response = browser.client.post(
            "/login", data={"name": "alice", "password": PASSWORD, "next": target, "csrf_token": token}
        )
        assert response.headers["Location"] == "/inbox", target


def test_signing_out_needs_the_csrf_token_and_ends_the_session(site: Site) -> None:
    browser = site.browser("alice")
    assert browser.post("/logout", csrf=False).status_code == 403
    assert browser.get("/inbox").status_code == 200
    assert browser.post("/logout").headers["Location"] == "/login"
    assert browser.get("/inbox").status_code == 302


def test_a_copy_of_the_cookie_replayed_after_signing_out_is_signed_out(site: Site) -> None:
    browser = site.browser("alice")
    stolen = browser.client.get_cookie("session")
    assert stolen is not None
    assert browser.post("/logout").status_code == 303

    replay = site.browser()
    replay.client.set_cookie("session", stolen.value)
    response = replay.get("/inbox")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_a_token_seen_before_signing_in_is_worth_nothing_after(site: Site) -> None:
    browser = site.browser()
    before = csrf_of(browser.get("/login"))
    browser.client.post("/login", data={"name": "alice", "password": PASSWORD, "csrf_token": before})
    case = site.start("AUTH-1")
    task = site.open_task(case["id"], "record")
    refused = browser.client.post(f"/tasks/{task['id']}/claim", data={"csrf_token": before})
    assert refused.status_code == 403
    assert site.engine.queries.task(task["id"])["assignee"] is None


def test_a_disabled_user_is_signed_out_of_the_pages(site: Site) -> None:
    from engine.actors import Actor

    browser = site.browser("alice")
    site.rest.users.update_user(Actor.operator(), "alice", active=False)
    assert browser.get("/inbox").status_code == 302


def test_pages_cannot_be_framed_nor_cached(site: Site) -> None:
    for response in (site.browser().get("/login"), site.browser("alice").get("/inbox")):
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["Cache-Control"] == "no-store"
    assert site.browser().get("/static/app.css").status_code == 200
