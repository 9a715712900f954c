"""Process definitions: list, versions, XML, and deploying new versions (designers only)."""

from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from engine.actors import require_may_deploy
from engine.bpmn.validation import SourceFile
from engine.deploy import DEPLOY_SUFFIXES, FORM_SUFFIX
from engine.errors import FieldError, NotFound, ValidationError
from engine.queries import DEFINITION_SORT

from ..auth import current_actor
from ..openapi import Param, Reply, operation
from .common import created, engine
from .params import page_request, paging, query_args
from .schemas import BOOLEAN, ref, text

bp = Blueprint("definitions", __name__)
TAG = "Definitions"
SORT_KEYS = list(DEFINITION_SORT)


@bp.get("/definitions")
@operation(
    "List process definitions",
    tag=TAG,
    query=(
        Param("key", text(), "Only this process key (the BPMN process id)"),
        Param("latest", BOOLEAN, "Only the latest version of each process"),
        *paging(SORT_KEYS, "key,version"),
    ),
    responses={200: Reply("A page of definitions", ref("DefinitionPage"))},
)
def list_definitions() -> ResponseReturnValue:
    args = query_args()
    page = engine().queries.definition_page(
        page_request(args, SORT_KEYS), key=args["key"], latest_only=bool(args["latest"])
    )
    return jsonify(page.to_dict())


@bp.get("/processes/<key>/versions")
@operation(
    "Every version of one process, newest first",
    tag=TAG,
    query=paging(SORT_KEYS, "-version"),
    responses={200: Reply("A page of versions", ref("DefinitionPage"))},
    errors=(404,),
)
def versions(key: str) -> ResponseReturnValue:
    args = query_args()
    page = page_request(args, SORT_KEYS)
    if not page.sort:
        page = page_request({**args, "sort": "-version"}, SORT_KEYS)
    found = engine().queries.definition_page(page, key=key)
    if found.total == 0:
        raise NotFound(f"No process with key {key!r} is deployed")
    return jsonify(found.to_dict())


@bp.get("/definitions/<definition_id>")
@operation(
    "One process definition version",
    tag=TAG,
    responses={200: Reply("The definition", ref("Definition"))},
    errors=(404,),
)
def show_definition(definition_id: str) -> ResponseReturnValue:
    return jsonify(engine().queries.definition(definition_id))


@bp.get("/definitions/<definition_id>/xml")
@operation(
    "Download the BPMN XML of a definition version",
    tag=TAG,
    responses={200: Reply("The BPMN file as deployed", {"type": "string"}, media_type="application/xml")},
    errors=(404,),
)
def definition_xml(definition_id: str) -> ResponseReturnValue:
    xml = engine().queries.definition_xml(definition_id)
    return Response(xml, mimetype="application/xml")


_DEPLOY_BODY = {
    "type": "object",
    "required": ["files"],
    "properties": {
        "files": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "format": "binary"},
            "description": "BPMN (.bpmn, .bpmn20.xml), DMN (.dmn) and form-js (.form) files, UTF-8",
        },
        "name": {**text(255, 0), "description": "A name for the deployment"},
        "changed_only": {
            "type": "boolean",
            "default": True,
            "description": "Make no new version of a process whose file is unchanged",
        },
    },
}


@bp.post("/deployments")
@operation(
    "Validate and deploy BPMN, DMN and form files (designers only)",
    tag=TAG,
    description="Everything is validated first; on any problem nothing is stored and the 422 "
    "response lists every problem with file, line and element.",
    multipart=_DEPLOY_BODY,
    responses={
        201: Reply("Deployed: the new versions and warnings", ref("DeployReport")),
        200: Reply("Nothing changed: every process is as its latest version", ref("DeployReport")),
    },
    errors=(403,),
)
def deploy() -> ResponseReturnValue:
    actor = current_actor()
    require_may_deploy(actor)
    sources, forms = uploaded_files()
    name = form_text("name")
    changed_only = form_flag("changed_only", default=True)
    report = engine().deployer.deploy(
        sources, actor=actor.name, name=name, source="api", forms=forms, changed_only=changed_only
    )
    if report.deployment_id is None:
        return jsonify(report.to_dict())
    return created(report.to_dict(), f"{request.script_root}/api/v1/definitions?latest=true")


def uploaded_files() -> tuple[list[SourceFile], dict[str, bytes]]:
    if request.mimetype != "multipart/form-data":
        from .params import UnsupportedMediaType

        raise UnsupportedMediaType("Upload the files as multipart/form-data")
    sources: list[SourceFile] = []
    forms: dict[str, bytes] = {}
    errors: list[FieldError] = []
    for upload in request.files.getlist("files"):
        filename = _base_name(upload.filename or "")
        content = upload.read()
        lowered = filename.lower()
        if not filename or "\x00" in filename:
            errors.append(FieldError("files", "every file needs a file name"))
            continue
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            errors.append(FieldError("files", f"{filename}: not UTF-8 text"))
            continue
        if lowered.endswith(DEPLOY_SUFFIXES):
            sources.append(SourceFile(filename, content))
        elif lowered.endswith(FORM_SUFFIX):
            forms[filename[: -len(FORM_SUFFIX)]] = content
        else:
            errors.append(FieldError("files", f"{filename}: not a .bpmn, .bpmn20.xml, .dmn or .form file"))
    if errors:
        raise ValidationError("Some uploaded files cannot be deployed", errors)
    if not sources:
        raise ValidationError(
            "Nothing to deploy", [FieldError("files", "upload at least one .bpmn or .dmn file as 'files'")]
        )
    return sources, forms


def _base_name(filename: str) -> str:
    """Browsers and tools may send a full path; only the file's own name is kept."""
    return PureWindowsPath(PurePosixPath(filename).name).name.strip()


def form_text(field: str) -> str | None:
    value = request.form.get(field)
    if value is None or not value.strip():
        return None
    if len(value) > 255 or "\x00" in value:
        raise ValidationError(f"Invalid {field}", [FieldError(field, "text of at most 255 characters")])
    return value.strip()


def form_flag(field: str, *, default: bool) -> bool:
    value = request.form.get(field)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ValidationError(f"Invalid {field}", [FieldError(field, "must be true or false")])
