"""Messages from outside (a customer's answer, a call-center event) delivered to waiting cases."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from ..auth import current_actor
from ..openapi import Reply, operation
from .common import engine
from .params import json_body
from .schemas import BOOLEAN, STRING, VARIABLES, nullable, obj, text

bp = Blueprint("messages", __name__)

_CORRELATE = obj(
    {
        "name": text(),
        "business_key": nullable(text()),
        "variables": VARIABLES,
        "all_instances": BOOLEAN,
    },
    optional=("business_key", "variables", "all_instances"),
)


@bp.post("/messages")
@operation(
    "Correlate a message: deliver it to the instance(s) waiting for it, or start a process with it",
    tag="Instances",
    description="The payload's variables become the instance's variables. With all_instances, every "
    "waiting instance receives it; otherwise the longest-waiting one.",
    body=_CORRELATE,
    responses={
        200: Reply(
            "The instances that received it (or were started)",
            obj({"instance_ids": {"type": "array", "items": STRING}}),
        )
    },
    errors=(403, 404, 409),
)
def correlate() -> ResponseReturnValue:
    body = json_body()
    touched = engine().runtime.correlate(
        body["name"],
        actor=current_actor(),
        business_key=body.get("business_key"),
        variables=body.get("variables"),
        all_instances=bool(body.get("all_instances")),
    )
    return jsonify(instance_ids=touched)
