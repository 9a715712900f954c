"""A Camunda 7 compatible REST API under ``/engine-rest``: a small, exact subset.

Teams leaving Camunda 7 keep their tools: Camunda Modeler deploys to it and starts
instances; task lists and external workers (``camunda-external-task-client-python3`` and
the like) talk to it. Requests and responses follow Camunda's documented shapes (member
names, nulls, typed variables, ``{"type", "message"}`` errors); what the engine does not
have (tenants, CMMN) reads as Camunda reports it when unused. Callers sign in with HTTP
Basic or a bearer token, as Camunda clients are configured to.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Flask, Response, current_app, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from engine.bpmn.elements import ProcessModels
from engine.camunda_history import CamundaHistory
from engine.camunda_queries import CamundaQueries
from engine.engine import Engine
from engine.errors import EngineError
from engine.external_tasks import ExternalTasks

from ..auth import protect
from .errors import CamundaError, engine_error_response, error_response, http_error_response
from .params import refuse_nul_in_request

bp = Blueprint("camunda", __name__, url_prefix="/engine-rest")
bp.before_request(refuse_nul_in_request)
protect(bp, challenge='Basic realm="default"')


@dataclass
class CamundaServices:
    engine: Engine
    queries: CamundaQueries
    history: CamundaHistory
    external_tasks: ExternalTasks


def services() -> CamundaServices:
    found: CamundaServices = current_app.extensions["camunda"]
    return found


def init_camunda(app: Flask) -> None:
    engine: Engine = app.extensions["engine"]
    models = ProcessModels()
    app.extensions["camunda"] = CamundaServices(
        engine=engine,
        queries=CamundaQueries(engine.db, models),
        history=CamundaHistory(engine.db, models),
        external_tasks=ExternalTasks(
            engine.db,
            engine.runtime,
            engine.clock,
            engine.serializer.registry.restore,
            models,
            poll_interval=float(app.config.get("EXTERNAL_TASK_POLL_SECONDS", 0.25)),
        ),
    )
    app.register_blueprint(bp)


@bp.errorhandler(EngineError)
def _engine_error(exc: EngineError) -> Response:
    return engine_error_response(exc)


@bp.errorhandler(CamundaError)
def _camunda_error(exc: CamundaError) -> Response:
    return error_response(exc.status, exc.type, exc.message)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    return http_error_response(exc)


_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")


@bp.route("/<path:unknown>", methods=list(_METHODS))
def _unknown(unknown: str) -> ResponseReturnValue:
    """Anything else under /engine-rest gets a Camunda-shaped 404, or 405 for a known path."""
    adapter = current_app.create_url_adapter(request)
    allowed = []
    for method in _METHODS:
        try:
            endpoint, _ = adapter.match(request.path, method=method) if adapter else (None, None)
        except HTTPException:
            continue
        if endpoint != "camunda._unknown":
            allowed.append(method)
    if allowed:
        raise MethodNotAllowed(valid_methods=allowed)
    raise NotFound(f"/engine-rest/{unknown} is not part of this engine's Camunda 7 compatible API")


# The routes register themselves on ``bp``.
from . import definitions, deployments, external_tasks, history, instances, tasks  # noqa: E402, F401
