"""Cases (process instances): find one, and see everything about it — status, data, open tasks,
incidents, and the full history with the result of re-hashing its chain.

Auditors see all of it and are offered no button; the engine would refuse them anyway.
"""

from __future__ import annotations

from flask import Blueprint, flash, render_template, request, url_for
from flask.typing import ResponseReturnValue

from engine.actors import require_may_manage_cases
from engine.errors import FieldError, ValidationError
from engine.paging import PageRequest, SortKey
from engine.queries import HistoryFilter, InstanceFilter

from ..cli import parse_value
from . import access
from .common import Pager, back_to, engine, me, page_request, page_url, query_choice, query_text
from .display import show_value

bp = Blueprint("cases", __name__)
STATUSES = ("running", "completed", "cancelled")
# The whole timeline of a case on one page: even a long repair has a few hundred events.
HISTORY_LIMIT = 1000
CUSTOMER_VARIABLE = "customer_id"


@bp.get("/cases")
def case_list() -> ResponseReturnValue:
    eng = engine()
    processes = [d["key"] for d in eng.queries.definitions(latest_only=True)]
    customer = query_text("customer", 64)
    where = InstanceFilter(
        process_key=query_choice("process", processes),
        status=query_choice("status", STATUSES),
        business_key=query_text("business_key"),
        with_incidents=True if request.args.get("incidents") == "on" else None,
        variables=((CUSTOMER_VARIABLE, customer),) if customer else (),
    )
    page = eng.queries.instance_page(where, page_request((SortKey("started_at", True),)))
    customers = eng.queries.case_fields({c["id"] for c in page.items}, ("customer_id", "customer_name"))
    return render_template(
        "cases.html",
        cases=[{**c, "customer": customers.get(c["id"], {})} for c in page.items],
        paging=Pager.of(page),
        page_url=page_url,
        processes=processes,
        statuses=STATUSES,
        args=request.args,
    )


@bp.get("/cases/<instance_id>")
def case(instance_id: str) -> ResponseReturnValue:
    actor = me()
    eng = engine()
    now = eng.clock.now()
    found = eng.queries.instance(instance_id, now)
    history = eng.queries.history_page(
        HistoryFilter(instance_id=instance_id), PageRequest(limit=HISTORY_LIMIT, sort=(SortKey("at"),))
    )
    checked, breaks = eng.queries.verify_history(instance_id)
    # Cases that share the business key: the compensation or callback a case called, or its caller.
    key = found["business_key"]
    same_key = eng.queries.instances(business_key=key, limit=50) if key else []
    related = [c for c in same_key if c["id"] != instance_id]
    return render_template(
        "case.html",
        case=found,
        definition=eng.queries.definition(found["definition_id"]),
        events=history.items,
        events_total=history.total,
        checked=checked,
        breaks=breaks,
        related=related,
        alarms=eng.alarms.alarms(instance_id=instance_id, limit=100),
        may_manage=access.may_manage_cases(actor),
        may_take={t["id"]: access.may_take(actor, t) for t in found["tasks"]},
    )


def _case_url(instance_id: str) -> str:
    return url_for(".case", instance_id=instance_id)


@bp.post("/incidents/<incident_id>/retry")
def retry_incident(incident_id: str) -> ResponseReturnValue:
    actor = me()
    eng = engine()
    incident = eng.queries.incident(incident_id)
    require_may_manage_cases(actor, "retry incidents")
    eng.runtime.retry_incident(incident_id, actor)
    flash("The failed step ran again.", "success")
    return back_to(_case_url(incident["instance_id"]))


@bp.post("/cases/<instance_id>/suspend")
def suspend(instance_id: str) -> ResponseReturnValue:
    actor = me()
    require_may_manage_cases(actor, "suspend cases")
    engine().runtime.suspend(instance_id, actor)
    flash("The case is suspended: its tasks wait until it is resumed.", "success")
    return back_to(_case_url(instance_id))


@bp.post("/cases/<instance_id>/resume")
def resume(instance_id: str) -> ResponseReturnValue:
    actor = me()
    require_may_manage_cases(actor, "resume cases")
    engine().runtime.resume(instance_id, actor)
    flash("The case is running again.", "success")
    return back_to(_case_url(instance_id))


@bp.post("/cases/<instance_id>/cancel")
def cancel(instance_id: str) -> ResponseReturnValue:
    actor = me()
    require_may_manage_cases(actor, "cancel cases")
    reason = request.form.get("reason", "").strip()[:2000] or None
    engine().runtime.cancel(instance_id, actor, reason)
    flash("The case is cancelled.", "success")
    return back_to(_case_url(instance_id))


@bp.post("/cases/<instance_id>/variables")
def change_variable(instance_id: str) -> ResponseReturnValue:
    """Set or remove one variable: the repair of a case stalled on its data (then retry its incident)."""
    actor = me()
    require_may_manage_cases(actor, "change case data")
    name = request.form.get("name", "").strip()
    if not name:
        raise ValidationError("Name the variable to change", [FieldError("name", "required")])
    if request.form.get("action") == "remove":
        change = engine().runtime.change_variables(instance_id, actor, {}, [name])
        said = _short(name)
        flash(f"{said} removed." if change.removed else f"{said} was not set: nothing changed.", "success")
        return back_to(_case_url(instance_id))
    try:
        value = parse_value(request.form.get("value", ""))
    except ValueError as exc:
        raise ValidationError(f"{name}: {exc}", [FieldError("value", str(exc))]) from None
    engine().runtime.change_variables(instance_id, actor, {name: value})
    flash(f"{_short(name)} is now {_short(show_value(value))}.", "success")
    return back_to(_case_url(instance_id))


def _short(text: str, limit: int = 200) -> str:
    """Flash messages travel in the session cookie, which browsers drop past 4 KB."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
