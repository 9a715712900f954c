"""The designer's page: deployed processes and their versions, the BPMN of each version to
download, and deploying a bundle of BPMN, DMN and form files with the validation report.

Designers deploy; auditors and admins see what was deployed, when and by whom.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from flask import Blueprint, Response, render_template
from flask.typing import ResponseReturnValue

from engine.actors import require_may_deploy
from engine.errors import DefinitionError, Forbidden, ValidationError

from ..rest.definitions import form_flag, form_text, uploaded_files
from . import access
from .common import engine, me

bp = Blueprint("designer", __name__)


def _require_view() -> None:
    actor = me()
    if not access.may_view_designer(actor):
        raise Forbidden(
            f"{actor.name} may not see the process designer's page: only designers, auditors and admins may"
        )


def _processes() -> list[dict[str, Any]]:
    """Every process with its versions, newest first."""
    definitions = engine().queries.definitions()
    processes = []
    for key, versions in groupby(definitions, key=lambda d: d["key"]):
        newest_first = sorted(versions, key=lambda d: d["version"], reverse=True)
        processes.append({"key": key, "latest": newest_first[0], "versions": newest_first})
    return processes


def _render(status: int = 200, **shown: Any) -> ResponseReturnValue:
    page = render_template(
        "designer.html", processes=_processes(), may_deploy=access.may_deploy(me()), **shown
    )
    return page, status


@bp.get("/designer")
def designer() -> ResponseReturnValue:
    _require_view()
    return _render()


@bp.post("/designer")
def deploy() -> ResponseReturnValue:
    """Validate and deploy; on any problem nothing is stored and each problem is listed."""
    actor = me()
    require_may_deploy(actor)
    try:
        sources, forms = uploaded_files()
        report = engine().deployer.deploy(
            sources,
            actor=actor.name,
            name=form_text("name"),
            source="pages",
            forms=forms,
            # A checkbox (checked at first) sends nothing when unchecked.
            changed_only=form_flag("changed_only", default=False),
        )
    except DefinitionError as exc:
        return _render(422, problems=exc.problems, refused=exc.message)
    except ValidationError as exc:
        return _render(422, upload_errors=exc.errors, refused=exc.message)
    return _render(201 if report.changed else 200, report=report)


@bp.get("/designer/definitions/<definition_id>.bpmn")
def download(definition_id: str) -> ResponseReturnValue:
    _require_view()
    queries = engine().queries
    definition = queries.definition(definition_id)
    name = f"{definition['key']}-v{definition['version']}.bpmn"
    return Response(
        queries.definition_xml(definition_id),
        mimetype="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
