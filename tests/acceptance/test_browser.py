"""The pages in a real browser (Debian's Chromium driven by Playwright) against a real gunicorn
server: the demo agent records a complaint, a refused form shows its field errors, the complaint
handler finds the case in their inbox and resolves it.

Chromium comes from the system (``make test`` installs Debian's package where it can); nothing
is downloaded. Without it the test is skipped, except in CI (``CI=true``) where it must run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.acceptance.camunda_server import ROOT, running_server

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Headless, and nothing that reaches out: no updates, sync, or first-run pages.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AGENT = ("li.na", "demo-agent")
HANDLER = ("chen.hao", "demo-complaints")


def _flask(db_url: str, *args: str) -> None:
    env = {**os.environ, "DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "flask", "--app", "api", *args]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A demo site as ``make run`` prepares it: schema, demo data, processes/ deployed."""
    db_url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    _flask(db_url, "init-db")
    _flask(db_url, "load-demo-data", "--force")
    _flask(db_url, "deploy", "processes")
    with running_server(db_url, tmp_path / "server.log") as base:
        yield base.removesuffix("/engine-rest")


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = (
            f"Chromium is not installed at {CHROMIUM} (`make test` installs Debian's package with apt-get)"
        )
        if IN_CI:
            pytest.fail(f"{reason}; the browser test is required in CI")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def sign_in(page: Page, base: str, who: tuple[str, str]) -> None:
    page.goto(f"{base}/")
    expect(page).to_have_url(f"{base}/login?next=/")
    page.get_by_label("User name").fill(who[0])
    page.get_by_label("Password").fill(who[1])
    page.get_by_role("button", name="Sign in").click()


def test_a_complaint_from_intake_to_resolution(server: str, browser: Browser, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})

    # The agent records a complaint.
    sign_in(page, server, AGENT)
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    page.get_by_role("link", name="Start a case").click()
    page.get_by_label("Complaint handling").check()
    page.get_by_label("Business key").fill("C-BROWSER-1")
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("heading", name="Record complaint", exact=True).first).to_be_visible()
    expect(page.get_by_text("Case C-BROWSER-1 started.")).to_be_visible()

    # A refused submission: the browser's own checks switched off, the server's answer shown.
    page.eval_on_selector("form.task-form", "form => { form.noValidate = true; }")
    page.get_by_label("Customer id").fill("CUST-A-001")
    page.get_by_label("Description").fill("Too short")
    page.get_by_role("button", name="Complete task").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("Category is required")
    expect(summary).to_contain_text("Description must be at least 10 characters long")
    expect(summary).to_contain_text("Channel is required")
    expect(page.locator("#f-description-err")).to_have_text("Description must be at least 10 characters long")
    expect(page.get_by_label("Customer id")).to_have_value("CUST-A-001")
    page.screenshot(path=str(tmp_path / "refused-form.png"), full_page=True)

    page.get_by_label("Phone").check()
    page.get_by_label("Category").select_option("billing")
    page.get_by_label("Description").fill("The March invoice was charged twice to the hotel's account.")
    page.get_by_label("High").check()
    page.get_by_role("button", name="Complete task").click()
    expect(page.get_by_text("Record complaint is done.")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    # The complaint handler finds it in their inbox, with the customer the handler looked up.
    sign_in(page, server, HANDLER)
    row = page.locator("tr", has_text="C-BROWSER-1")
    expect(row).to_contain_text("Verify and resolve complaint")
    expect(row).to_contain_text("Beijing Huaxin Hotel Group")
    row.get_by_role("button", name="Claim").click()
    expect(page.get_by_text("assigned to chen.hao")).to_be_visible()
    # The case data the form shows in its text blocks.
    expect(page.locator(".form-text", has_text="The March invoice was charged twice")).to_be_visible()

    # The form's conditions are followed as people type: the amount appears with its checkbox.
    amount = page.get_by_label("Proposed compensation amount")
    expect(amount).to_be_hidden()
    page.get_by_label("A business compensation is due").check()
    expect(amount).to_be_visible()
    page.get_by_label("A business compensation is due").uncheck()
    expect(amount).to_be_hidden()

    page.get_by_label("Founded", exact=True).check()
    page.get_by_label("Facts checked").fill("Billing system shows two charges on 3 March.")
    page.get_by_label("Solution").fill("The second charge is refunded within three working days.")
    page.get_by_label("Resolved on first contact").check()
    page.screenshot(path=str(tmp_path / "handler-task.png"), full_page=True)
    page.get_by_role("button", name="Complete task").click()
    expect(page.get_by_text("Verify and resolve complaint is done.")).to_be_visible()
    expect(page.locator("tr", has_text="C-BROWSER-1")).to_have_count(0)

    # The case shows who did what, and that its history is intact.
    page.get_by_role("link", name="Cases").click()
    page.get_by_role("link", name="C-BROWSER-1").first.click()
    history = page.locator("ol.history")
    expect(history).to_contain_text("by li.na")
    expect(history).to_contain_text("by chen.hao")
    expect(page.get_by_text("Verified: all")).to_be_visible()
    page.screenshot(path=str(tmp_path / "case.png"), full_page=True)
    for name in ("refused-form.png", "handler-task.png", "case.png"):
        assert (tmp_path / name).stat().st_size > 10_000, name
