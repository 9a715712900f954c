"""``/process-instance/{id}``: a running instance and its variables, as Camunda's runtime API has them.

As in Camunda, an instance that has ended is no longer a runtime instance (404); its
record is under ``/history/process-instance/{id}``. Changing variables is the engine's
repair command (engine/variables.py): managers only, each change in the case's history.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue

from engine.actors import require_may_manage_cases
from engine.camunda_queries import InstanceState
from engine.errors import NotFound

from ..auth import current_actor
from . import bp, dto, services
from .params import Params
from .variables import from_camunda, to_camunda


@bp.get("/process-instance/<instance_id>")
def instance_get(instance_id: str) -> ResponseReturnValue:
    Params.query().only(())
    state = _running(instance_id)
    body = dto.instance(state.id, state.definition_id, state.business_key, False, state.suspended)
    body.pop("links")  # Camunda's GET answer carries no links
    return jsonify(body)


@bp.get("/process-instance/<instance_id>/variables")
def instance_variables(instance_id: str) -> ResponseReturnValue:
    Params.query().only((), accepted=("deserializeValues",))
    return jsonify(to_camunda(_running(instance_id).variables))


@bp.get("/process-instance/<instance_id>/variables/<name>")
def instance_variable(instance_id: str, name: str) -> ResponseReturnValue:
    Params.query().only((), accepted=("deserializeValue",))
    variables = _running(instance_id).variables
    if name not in variables:
        raise NotFound(f"process instance variable with name {name} does not exist")
    return jsonify(to_camunda(variables, [name])[name])


@bp.post("/process-instance/<instance_id>/variables")
def instance_variables_modify(instance_id: str) -> ResponseReturnValue:
    params = Params.body().only(("modifications", "deletions"))
    setting = from_camunda(params.values.get("modifications"), "modifications")
    removing = params.texts("deletions") or []
    _change(instance_id, setting, removing)
    return "", 204


@bp.put("/process-instance/<instance_id>/variables/<name>")
def instance_variable_put(instance_id: str, name: str) -> ResponseReturnValue:
    typed = Params.body(allow_empty=False).only(("value", "type", "valueInfo")).values
    _change(instance_id, from_camunda({name: typed}), [])
    return "", 204


@bp.delete("/process-instance/<instance_id>/variables/<name>")
def instance_variable_delete(instance_id: str, name: str) -> ResponseReturnValue:
    _change(instance_id, {}, [name])
    return "", 204


def _running(instance_id: str) -> InstanceState:
    state = services().queries.instance_state(instance_id)
    if state.status != "running":
        raise NotFound(f"Process instance with id {instance_id} does not exist")
    return state


def _change(instance_id: str, setting: dict[str, Any], removing: list[str]) -> None:
    _running(instance_id)
    actor = current_actor()
    require_may_manage_cases(actor, "change case variables")  # even when there is nothing to change
    if not setting and not removing:
        return  # as in Camunda, an empty modification changes nothing and is no error
    services().engine.runtime.change_variables(instance_id, actor, setting, removing)
