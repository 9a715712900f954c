"""Start a case: the executable processes this person may start, a business key, and variables.

Variables are name/value rows; a value is read as the command line reads ``--var``: JSON when
it parses as JSON (numbers, true, lists), else text; JSON no variable can hold (NaN, nesting
too deep) is refused on its row.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from engine.actors import Actor, may_start, require_can_change
from engine.errors import FieldError, ValidationError
from engine.spec_cache import starters

from ..cli import parse_value
from . import access
from .common import engine, me

bp = Blueprint("start", __name__)
VARIABLE_ROWS = 6
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_VALUE = 10_000
MAX_BUSINESS_KEY = 255


def startable(actor: Actor) -> list[dict[str, Any]]:
    """The latest version of every executable process whose starters include ``actor``."""
    eng = engine()
    found = []
    for definition in eng.queries.definitions(latest_only=True):
        if not definition["executable"]:
            continue
        groups, users = starters(eng.queries.definition_xml(definition["id"]), definition["key"])
        if may_start(actor, groups, users):
            found.append(definition)
    return found


def _variables(names: list[str], values: list[str]) -> dict[str, Any]:
    variables: dict[str, Any] = {}
    errors: list[FieldError] = []
    for row, (name, raw) in enumerate(zip(names, values, strict=False), start=1):
        name = name.strip()
        if not name and not raw.strip():
            continue
        if not _NAME.fullmatch(name):
            errors.append(
                FieldError(
                    f"variables[{row}]",
                    f"row {row}: {name!r} is not a variable name "
                    "(letters, digits and _, not starting with a digit)",
                )
            )
        elif name in variables:
            errors.append(FieldError(f"variables[{row}]", f"row {row}: {name} is given twice"))
        elif len(raw) > MAX_VALUE:
            errors.append(
                FieldError(f"variables[{row}]", f"row {row}: the value is over {MAX_VALUE} characters")
            )
        else:
            try:
                variables[name] = parse_value(raw)
            except ValueError as exc:
                errors.append(FieldError(f"variables[{row}]", f"row {row}: {exc}"))
    if errors:
        raise ValidationError("Some variables cannot be used", errors)
    return variables


def _render(status: int = 200, errors: list[FieldError] | None = None, message: str | None = None) -> Any:
    actor = me()
    names = request.form.getlist("name") or [""] * VARIABLE_ROWS
    values = request.form.getlist("value") or [""] * VARIABLE_ROWS
    rows = list(zip(names, values, strict=False))
    rows += [("", "")] * max(0, VARIABLE_ROWS - len(rows))
    page = render_template(
        "start.html",
        definitions=startable(actor),
        chosen=request.values.get("process", ""),
        business_key=request.form.get("business_key", ""),
        rows=rows,
        errors=errors or [],
        message=message,
    )
    return page, status


@bp.get("/start")
def start_page() -> ResponseReturnValue:
    require_can_change(me(), "start cases")
    return _render()


@bp.post("/start")
def start() -> ResponseReturnValue:
    actor = me()
    eng = engine()
    process = request.form.get("process", "")
    business_key = request.form.get("business_key", "").strip() or None
    try:
        if not process:
            raise ValidationError("Choose a process", [FieldError("process", "choose the process to start")])
        if business_key is not None and len(business_key) > MAX_BUSINESS_KEY:
            raise ValidationError(
                "Business key too long", [FieldError("business_key", "at most 255 characters")]
            )
        variables = _variables(request.form.getlist("name"), request.form.getlist("value"))
        instance_id = eng.runtime.start(
            actor=actor, process_key=process, business_key=business_key, variables=variables
        )
    except ValidationError as exc:
        return _render(422, exc.errors, exc.message)
    case = eng.queries.instance(instance_id, eng.clock.now())
    # The usual next step is the starter's own: open it at once, as a service desk does.
    mine = [t for t in case["tasks"] if t["kind"] == "user" and access.may_complete(actor, t)]
    flash(f"Case {business_key or instance_id} started.", "success")
    if mine:
        return redirect(url_for("pages.tasks.task", task_id=mine[0]["id"]), code=303)
    return redirect(url_for("pages.cases.case", instance_id=instance_id), code=303)
