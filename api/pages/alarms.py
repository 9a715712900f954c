"""Deadline alarms (§5): reminders, warnings, breaches and escalations for my roles; acknowledge."""

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
# Alarm ids are database integers; anything else names no alarm.
MAX_ID = 2**31 - 1


@bp.get("/alarms")
def alarm_list() -> ResponseReturnValue:
    actor = me()
    # Managers, auditors and admins oversee every role; others see the alarms of their own roles.
    sees_all = bool(CASE_MANAGER_ROLES & actor.roles) or may_audit(actor)
    roles = sorted(actor.roles)
    choices = [EVERY_ROLE, *roles] if sees_all else roles
    default = EVERY_ROLE if sees_all else (roles[0] if roles else None)
    role = query_choice("role", choices, default) if choices else None
    shown = query_choice("show", ("open", "acknowledged", "all"), "open")
    acknowledged = {"open": False, "acknowledged": True, "all": None}[shown or "open"]
    eng = engine()
    if role is None:
        page = None
    else:
        page = eng.alarms.alarm_page(
            page_request((SortKey("raised_at", True),)),
            acknowledged=acknowledged,
            role=None if role == EVERY_ROLE else role,
            stage=query_choice("stage", STAGES),
        )
    return render_template(
        "alarms.html",
        alarms=page.items if page else [],
        paging=Pager.of(page) if page else None,
        page_url=page_url,
        role=role,
        roles=choices,
        every_role=EVERY_ROLE,
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
