"""``/process-instance/{id}``: a running instance, as Camunda's runtime API shows it.

As in Camunda, an instance that has ended is no longer a runtime instance (404); its
record is under ``/history/process-instance/{id}``.
"""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue

from engine.errors import NotFound

from . import bp, dto, services
from .params import Params


@bp.get("/process-instance/<instance_id>")
def instance_get(instance_id: str) -> ResponseReturnValue:
    Params.query().only(())
    state = services().queries.instance_state(instance_id)
    if state.status != "running":
        raise NotFound(f"Process instance with id {instance_id} does not exist")
    body = dto.instance(state.id, state.definition_id, state.business_key, False, state.suspended)
    body.pop("links")  # Camunda's GET answer carries no links
    return jsonify(body)
