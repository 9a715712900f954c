"""One task: the case data a person needs, the form drawn from the engine's form model, the
deadline, and the commands staff give (complete, claim, unclaim, delegate)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from engine.errors import FieldError, ValidationError
from engine.forms import Form

from ..rest.tasks import existing_user
from . import access
from .common import back_to, engine, me, safe_next
from .form_view import ADD_ROW, build, hidden_ids, read_submission, rows_to_add

bp = Blueprint("tasks", __name__)


def _earlier_steps(instance_id: str) -> list[dict[str, Any]]:
    """The case's completed user tasks, oldest first, with what each one recorded."""
    eng = engine()
    done = eng.queries.tasks(instance_id=instance_id, state="completed", limit=500)
    recorded = {
        event["task_id"]: event["data"].get("data", {})
        for event in eng.queries.history(instance_id=instance_id, event_type="task_completed", limit=1000)
    }
    steps = [{**task, "data": recorded.get(task["id"], {})} for task in done]
    return sorted(steps, key=lambda t: t["ended_at"] or "")


def _render(
    task_id: str,
    values: Mapping[str, Any] | None = None,
    errors: Sequence[FieldError] = (),
    extra_rows: Mapping[str, int] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    actor = me()
    eng = engine()
    now = eng.clock.now()
    task = eng.queries.task(task_id, now, with_form=False)
    form, context = eng.queries.task_form(task_id)
    case = eng.queries.instance(task["instance_id"], now)
    is_open = task["state"] == "open"
    page = render_template(
        "task.html",
        task=task,
        case=case,
        form=form,
        view=build(form, context, values, errors, extra_rows) if form is not None and is_open else None,
        deadline=eng.alarms.deadline(task_id) if is_open else None,
        steps=_earlier_steps(task["instance_id"]),
        editable=is_open
        and access.may_complete(actor, task)
        and case["status"] == "running"
        and not case["suspended"],
        may_take=is_open and access.may_take(actor, task),
        may_hand_on=is_open and access.may_hand_on(actor, task),
        add_row=ADD_ROW,
    )
    return page, status


@bp.get("/tasks/<task_id>")
def task(task_id: str) -> ResponseReturnValue:
    return _render(task_id)


def _form(task_id: str) -> tuple[Form | None, dict[str, Any]]:
    return engine().queries.task_form(task_id)


@bp.post("/tasks/<task_id>")
def complete(task_id: str) -> ResponseReturnValue:
    """Submit the form; a refused submission shows the form again with every field's problem."""
    form, context = _form(task_id)
    data = read_submission(form, request.form, context) if form is not None else {}
    if form is not None and ADD_ROW in request.form:
        return _render(task_id, {**context, **data}, extra_rows=rows_to_add(form, request.form))
    eng = engine()
    name = eng.queries.task(task_id, with_form=False)["name"] or "The task"
    try:
        eng.runtime.complete_task(task_id, data, me())
    except ValidationError as exc:
        errors = exc.errors or [FieldError("", exc.message)]
        return _render(task_id, {**context, **data}, errors, status=422)
    flash(f"{name} is done.", "success")
    return redirect(safe_next(request.form.get("next"), url_for("pages.inbox.inbox")), code=303)


@bp.post("/tasks/<task_id>/visibility")
def visibility(task_id: str) -> ResponseReturnValue:
    """Which fields and texts the form's conditions hide for what has been typed so far: the
    page's script asks as people type, so the conditions are decided here, by the engine's reader."""
    form, context = _form(task_id)
    if form is None:
        return jsonify(hidden=[])
    data = read_submission(form, request.form, context)
    return jsonify(hidden=hidden_ids(build(form, context, {**context, **data})))


@bp.post("/tasks/<task_id>/claim")
def claim(task_id: str) -> ResponseReturnValue:
    engine().runtime.claim(task_id, me())
    flash("The task is yours now.", "success")
    return back_to(url_for(".task", task_id=task_id))


@bp.post("/tasks/<task_id>/unclaim")
def unclaim(task_id: str) -> ResponseReturnValue:
    engine().runtime.unclaim(task_id, me())
    flash("The task is back with its role.", "success")
    return back_to(url_for(".task", task_id=task_id))


@bp.post("/tasks/<task_id>/delegate")
def delegate(task_id: str) -> ResponseReturnValue:
    to = existing_user(request.form.get("to", "").strip(), "to")
    engine().runtime.delegate(task_id, to, me())
    flash(f"The task is delegated to {to}; you remain its owner.", "success")
    return back_to(url_for("pages.inbox.inbox"))
