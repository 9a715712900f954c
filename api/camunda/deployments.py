"""``/version`` and ``/deployment``: what Camunda Modeler calls to check a connection and deploy.

Camunda Modeler sends ``POST /deployment/create`` as multipart form data: the diagram as a
file part named after the file, its forms as further file parts, ``deployment-name``,
``deployment-source`` and one of the duplicate-filtering flags. The engine validates every
file before anything is stored; a diagram it cannot run is refused with Camunda's
``ENGINE-09005 Could not parse BPMN process.`` error, listing each problem with its line.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from flask import jsonify, request
from flask.typing import ResponseReturnValue

from engine.actors import require_may_deploy
from engine.bpmn.validation import SourceFile
from engine.camunda_queries import DEPLOYMENT_SORTS, DeploymentFilter
from engine.deploy import DEPLOY_SUFFIXES, FORM_SUFFIX
from engine.errors import ValidationError
from engine.forms.formjs import MAX_FORM_DEPTH
from engine.json_values import loads

from ..auth import current_actor
from . import bp, dto, services
from .params import PAGING, SORTING, Params, window

# Camunda 7.22 is the release this subset follows (Camunda Modeler lints diagrams for the version).
CAMUNDA_VERSION = "7.22.0"

_FORM_FIELDS = {
    "deployment-name",
    "deployment-source",
    "enable-duplicate-filtering",
    "deploy-changed-only",
    "tenant-id",
    "deployment-activation-time",
}


@bp.get("/version")
def version() -> ResponseReturnValue:
    return jsonify(version=CAMUNDA_VERSION)


@bp.get("/deployment")
def deployment_list() -> ResponseReturnValue:
    params = Params.query().only(
        (
            "id",
            "name",
            "nameLike",
            "source",
            "withoutSource",
            "after",
            "before",
            "tenantIdIn",
            *SORTING,
            *PAGING,
        ),
        ("withoutTenantId", "includeDeploymentsWithoutTenantId"),
    )
    found = DeploymentFilter(
        id=params.text("id"),
        name=params.text("name"),
        name_like=params.text("nameLike"),
        source=params.text("source"),
        without_source=params.flag("withoutSource"),
        after=params.date("after"),
        before=params.date("before"),
        tenant_ids=params.texts("tenantIdIn"),
    )
    rows = services().queries.deployments(found, params.sorting(DEPLOYMENT_SORTS), window())
    return jsonify([dto.deployment(row) for row in rows])


@bp.get("/deployment/<deployment_id>")
def deployment_get(deployment_id: str) -> ResponseReturnValue:
    Params.query().only(())
    return jsonify(dto.deployment(services().queries.deployment(deployment_id)))


def _flag(name: str) -> bool:
    value = request.form.get(name)
    if value is None or value == "":
        return False
    if value.lower() not in ("true", "false"):
        raise ValidationError(f"Form part '{name}' must be true or false, not {value!r}")
    return value.lower() == "true"


def _resources() -> list[tuple[str, bytes]]:
    """Every part that is not one of Camunda's form fields is a resource, as in Camunda."""
    found = [(f.filename or name, f.read()) for name, f in request.files.items(multi=True)]
    found += [
        (name, value.encode("utf-8"))
        for name, value in request.form.items(multi=True)
        if name not in _FORM_FIELDS
    ]
    return found


def _forms(name: str, content: bytes, forms: dict[str, bytes]) -> None:
    """A form is found by its file name (``formKey``) and by the ``id`` inside it (``formRef``)."""
    forms[PurePath(name).name[: -len(FORM_SUFFIX)]] = content
    try:
        document: Any = loads(content, MAX_FORM_DEPTH, "the form")
    except ValueError:
        return  # the deployer reports an unreadable form if a task uses it
    if isinstance(document, dict) and isinstance(document.get("id"), str):
        forms.setdefault(document["id"], content)


@bp.post("/deployment/create")
def deployment_create() -> ResponseReturnValue:
    actor = current_actor()
    require_may_deploy(actor)
    if request.mimetype != "multipart/form-data":
        raise ValidationError("Send the deployment as multipart/form-data (as Camunda Modeler does)")
    if request.form.get("tenant-id"):
        raise ValidationError("tenant-id: this engine has no tenants; deploy without one")
    if request.form.get("deployment-activation-time"):
        raise ValidationError(
            "deployment-activation-time is not supported: definitions are active when deployed"
        )
    sources: list[SourceFile] = []
    forms: dict[str, bytes] = {}
    for name, content in _resources():
        lowered = name.lower()
        if lowered.endswith(DEPLOY_SUFFIXES):
            sources.append(SourceFile(PurePath(name).name, content))
        elif lowered.endswith(FORM_SUFFIX):
            _forms(name, content, forms)
        # Other resources (images, HTML forms) have no use in this engine and are not stored.
    if not sources:
        raise ValidationError("No deployment resources contained in the form upload.")
    # Either flag skips what is unchanged; only changed processes get a new version.
    filtering = _flag("deploy-changed-only") or _flag("enable-duplicate-filtering")
    engine = services().engine
    report = engine.deployer.deploy(
        sources,
        actor=actor.name,
        name=request.form.get("deployment-name") or None,
        source=request.form.get("deployment-source") or None,
        forms=forms,
        changed_only=filtering,
    )
    queries = services().queries
    if report.deployment_id is None and report.definitions:
        # Nothing changed: Camunda answers with the deployment that already holds these resources.
        latest = queries.definition(report.definitions[0].id)
        return jsonify(dto.deployment_with_definitions(queries.deployment(latest.deployment_id), []))
    if report.deployment_id is None:
        raise ValidationError("The deployment holds no process definition")
    created = queries.definitions_by_ids([d.id for d in report.definitions if d.new])
    return jsonify(dto.deployment_with_definitions(queries.deployment(report.deployment_id), created))
