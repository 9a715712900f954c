"""Deadline alarms (§5): reminders, warnings, breaches and escalations told to me or my roles; acknowledge."""

from __future__ import annotations

from flask import Blueprint, flash, render_template, request, url_for
from flask.typing import ResponseReturnValue

from engine.actors import CASE_MANAGER_ROLES, may_audit
from engine.errors import NotFound
from engine.paging import SortKey
from engine.scheduler.alarm_book import STAGES

from . import access
from .common import Pager, back_to, engine, me, page_request, page_url, query_choice

bp = Blueprint("alarms", __name__)
EVERY_ROLE = "*"
TOLD_TO_ME = "me"
# Alarm ids are database integers; anything else names no alarm.
MAX_ID = 2**31 - 1


@bp.get("/alarms")
def alarm_list() -> ResponseReturnValue:
    actor = me()
    # Managers, auditors and admins oversee every role; others see the alarms of their own roles.
    sees_all = bool(CASE_MANAGER_ROLES & actor.roles) or may_audit(actor)
    roles = sorted(actor.roles)
    # Staff land on what was told to them (by name, as a candidate user, or to one of their roles).
    choices = [EVERY_ROLE, TOLD_TO_ME, *roles] if sees_all else [TOLD_TO_ME, *roles]
    role = query_choice("role", choices, EVERY_ROLE if sees_all else TOLD_TO_ME)
    shown = query_choice("show", ("open", "acknowledged", "all"), "open")
    acknowledged = {"open": False, "acknowledged": True, "all": None}[shown or "open"]
    eng = engine()
    page = eng.alarms.alarm_page(
        page_request((SortKey("raised_at", True),)),
        acknowledged=acknowledged,
        role=None if role in (EVERY_ROLE, TOLD_TO_ME) else role,
        told=actor if role == TOLD_TO_ME else None,
        stage=query_choice("stage", STAGES),
    )
    return render_template(
        "alarms.html",
        alarms=page.items,
        paging=Pager.of(page),
        page_url=page_url,
        role=role,
        roles=choices,
        every_role=EVERY_ROLE,
        told_to_me=TOLD_TO_ME,
        show=shown,
        stages=STAGES,
        args=request.args,
        may_acknowledge=access.may_change(actor),
    )


@bp.post("/alarms/<alarm_id>/acknowledge")
def acknowledge(alarm_id: str) -> ResponseReturnValue:
    if not alarm_id.isdigit() or int(alarm_id) > MAX_ID:
        raise NotFound(f"No alarm with id {alarm_id!r}")
    note = request.form.get("note", "").strip()[:2000] or None
    engine().alarms.acknowledge(int(alarm_id), me(), note)
    flash(f"Alarm {alarm_id} acknowledged.", "success")
    return back_to(url_for(".alarm_list"))
