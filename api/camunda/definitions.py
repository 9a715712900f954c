"""``/process-definition``: deployed processes, their XML, and starting instances of them."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue

from engine.camunda_queries import DEFINITION_SORTS, DefinitionFilter
from engine.errors import ValidationError

from ..auth import current_actor
from . import bp, dto, services
from .params import PAGING, SORTING, Params, window
from .variables import from_camunda, to_camunda

_FILTERS = (
    "processDefinitionId",
    "processDefinitionIdIn",
    "name",
    "nameLike",
    "deploymentId",
    "key",
    "keysIn",
    "keyLike",
    "version",
    "latestVersion",
    "resourceName",
    "resourceNameLike",
    "versionTag",
    "tenantIdIn",
    "suspended",
)
# Filters that hold for every definition here: all are active, none has a tenant, all are startable.
_ALWAYS_TRUE = (
    "active",
    "withoutTenantId",
    "includeProcessDefinitionsWithoutTenantId",
    "startableInTasklist",
)


def _filter(params: Params) -> DefinitionFilter:
    return DefinitionFilter(
        id=params.text("processDefinitionId"),
        ids=params.texts("processDefinitionIdIn"),
        name=params.text("name"),
        name_like=params.text("nameLike"),
        deployment_id=params.text("deploymentId"),
        key=params.text("key"),
        keys=params.texts("keysIn"),
        key_like=params.text("keyLike"),
        version=params.integer("version"),
        latest_only=params.flag("latestVersion"),
        resource_name=params.text("resourceName"),
        resource_name_like=params.text("resourceNameLike"),
        version_tag=params.text("versionTag"),
        tenant_ids=params.texts("tenantIdIn"),
        suspended_only=params.flag("suspended"),
    )


@bp.get("/process-definition")
def definition_list() -> ResponseReturnValue:
    params = Params.query().only((*_FILTERS, *SORTING, *PAGING), _ALWAYS_TRUE)
    views = services().queries.definitions(_filter(params), params.sorting(DEFINITION_SORTS), window())
    return jsonify([dto.definition(v) for v in views])


@bp.get("/process-definition/count")
def definition_count() -> ResponseReturnValue:
    params = Params.query().only(_FILTERS, _ALWAYS_TRUE)
    return jsonify(count=services().queries.count_definitions(_filter(params)))


@bp.get("/process-definition/key/<key>")
def definition_by_key(key: str) -> ResponseReturnValue:
    Params.query().only(())
    return jsonify(dto.definition(services().queries.latest_definition(key)))


@bp.get("/process-definition/<definition_id>")
def definition_by_id(definition_id: str) -> ResponseReturnValue:
    Params.query().only(())
    return jsonify(dto.definition(services().queries.definition(definition_id)))


@bp.get("/process-definition/key/<key>/xml")
def definition_xml_by_key(key: str) -> ResponseReturnValue:
    queries = services().queries
    view = queries.latest_definition(key)
    return jsonify(id=view.id, bpmn20Xml=queries.definition_xml(view.id))


@bp.get("/process-definition/<definition_id>/xml")
def definition_xml(definition_id: str) -> ResponseReturnValue:
    return jsonify(id=definition_id, bpmn20Xml=services().queries.definition_xml(definition_id))


@bp.post("/process-definition/key/<key>/start")
def start_by_key(key: str) -> ResponseReturnValue:
    return _start(process_key=key)


@bp.post("/process-definition/<definition_id>/start")
def start_by_id(definition_id: str) -> ResponseReturnValue:
    return _start(definition_id=definition_id)


def _start(**which: Any) -> ResponseReturnValue:
    params = Params.body().only(
        ("variables", "businessKey", "withVariablesInReturn", "caseInstanceId", "startInstructions"),
        ("skipCustomListeners", "skipIoMappings"),
    )
    if params.values.get("caseInstanceId") is not None:
        raise ValidationError("caseInstanceId: this engine runs no CMMN cases")
    if params.values.get("startInstructions"):
        raise ValidationError("startInstructions are not supported: instances start at their start event")
    variables = from_camunda(params.values.get("variables"))
    engine = services().engine
    instance_id = engine.runtime.start(
        actor=current_actor(), business_key=params.text("businessKey"), variables=variables, **which
    )
    state = services().queries.instance_state(instance_id)
    body = dto.instance(
        instance_id, state.definition_id, state.business_key, state.status != "running", state.suspended
    )
    if params.flag("withVariablesInReturn"):
        body["variables"] = to_camunda(state.variables)
    return jsonify(body)
