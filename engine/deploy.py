"""Deploying: validate a set of files, then store new definition versions in one transaction.

A definition is keyed by its BPMN process id and versioned 1, 2, 3…; a process whose file
is unchanged (same content hash as its latest version) gets no new version. Forms a
process uses are stored with it, so a running case keeps the forms it started with.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, insert, select

from .bpmn.validation import DeploymentValidator, SourceFile, ValidatedDeployment
from .db import Database
from .errors import DefinitionError, Problem
from .forms import Form, load_formjs
from .handler_registry import HandlerRegistry
from .history import NewEvent, append_to_named_chain
from .models import Definition, Deployment

DEPLOY_SUFFIXES = (".bpmn", ".bpmn20.xml", ".dmn", ".dmn11.xml")
FORM_SUFFIX = ".form"


@dataclass
class DeployedDefinition:
    id: str
    key: str
    version: int
    name: str | None
    resource_name: str
    new: bool
    executable: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "version": self.version,
            "name": self.name,
            "resource": self.resource_name,
            "new": self.new,
            "executable": self.executable,
        }


@dataclass
class DeployReport:
    deployment_id: str | None
    name: str
    deployed_at: datetime
    definitions: list[DeployedDefinition] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(d.new for d in self.definitions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "deployment_id": self.deployment_id,
            "name": self.name,
            "deployed_at": self.deployed_at.isoformat(),
            "definitions": [d.to_dict() for d in self.definitions],
            "warnings": [w.to_dict() for w in self.warnings],
        }


@dataclass(frozen=True)
class StoredDefinition:
    """A definition version just stored, as deploy listeners see it inside the deploy transaction."""

    id: str
    key: str
    spec: Any
    executable: bool


# Called in the deploy transaction with the new versions; raising refuses the whole deploy.
DeployListener = Callable[[Connection, list[StoredDefinition], datetime], None]


def content_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def files_in(paths: Iterable[Path]) -> tuple[list[SourceFile], dict[str, bytes]]:
    """Deployable files and forms under the given files or folders (folders recursively)."""
    sources: list[SourceFile] = []
    forms: dict[str, bytes] = {}
    for path in paths:
        candidates = sorted(path.rglob("*")) if path.is_dir() else [path]
        if not path.exists():
            raise DefinitionError([Problem(f"No such file or folder: {path}", str(path))])
        for file in candidates:
            name = file.name.lower()
            if name.endswith(DEPLOY_SUFFIXES):
                sources.append(SourceFile(str(file), file.read_bytes()))
            elif name.endswith(FORM_SUFFIX):
                forms[file.name[: -len(FORM_SUFFIX)]] = file.read_bytes()
    return sources, forms


class Deployer:
    def __init__(
        self,
        db: Database,
        handlers: HandlerRegistry,
        serialize_spec: Callable[[Any], dict[str, Any]],
        forms_dir: Path | None,
        clock: Callable[[], datetime],
        gateway_policy: str = "strict",
    ) -> None:
        self.db = db
        self.handlers = handlers
        self.serialize_spec = serialize_spec
        self.forms_dir = forms_dir
        self.clock = clock
        self.gateway_policy = gateway_policy
        self.listeners: list[DeployListener] = []

    def deploy(
        self,
        files: list[SourceFile],
        *,
        actor: str,
        name: str | None = None,
        source: str | None = None,
        forms: dict[str, bytes] | None = None,
        changed_only: bool = True,
    ) -> DeployReport:
        """Validate everything, then store what changed; on any problem nothing is stored."""
        if not files:
            raise DefinitionError([Problem("Nothing to deploy: no .bpmn or .dmn file given")])
        uploaded_forms = forms or {}
        with self.db.transaction() as conn:
            validator = DeploymentValidator(
                self.handlers,
                lambda key: self._find_form(key, uploaded_forms),
                lambda key: self._deployed_source(conn, key),
                self.gateway_policy,
            )
            validated = validator.validate(files)
            return self._store(conn, validated, actor, name or _default_name(files), source, changed_only)

    def _find_form(self, key: str, uploaded: dict[str, bytes]) -> tuple[Form, Any] | None:
        text: bytes | None = uploaded.get(key)
        filename = f"{key}{FORM_SUFFIX}"
        if text is None and self.forms_dir is not None:
            path = self.forms_dir / filename
            if path.is_file():
                text = path.read_bytes()
                filename = str(path)
        if text is None:
            return None
        decoded = text.decode("utf-8")
        form = load_formjs(decoded, filename)
        return form, json.loads(decoded)

    @staticmethod
    def _deployed_source(conn: Connection, key: str) -> SourceFile | None:
        row = conn.execute(
            select(Definition.resource_name, Definition.bpmn_xml)
            .where(Definition.key == key)
            .order_by(Definition.version.desc())
            .limit(1)
        ).first()
        return SourceFile(row.resource_name, row.bpmn_xml.encode("utf-8")) if row else None

    def _store(
        self,
        conn: Connection,
        validated: ValidatedDeployment,
        actor: str,
        name: str,
        source: str | None,
        changed_only: bool,
    ) -> DeployReport:
        now = self.clock()
        deployment_id = str(uuid.uuid4())
        report = DeployReport(deployment_id, name, now, warnings=validated.warnings)
        rows: list[dict[str, Any]] = []
        stored: list[StoredDefinition] = []
        for process in validated.processes:
            forms = validated.form_documents.get(process.source.name, {})
            digest = content_hash(process.source.content + json.dumps(forms, sort_keys=True).encode())
            latest = conn.execute(
                select(Definition.id, Definition.version, Definition.content_hash)
                .where(Definition.key == process.key)
                .order_by(Definition.version.desc())
                .limit(1)
            ).first()
            if changed_only and latest is not None and latest.content_hash == digest:
                report.definitions.append(
                    DeployedDefinition(
                        latest.id,
                        process.key,
                        latest.version,
                        process.name,
                        _short_name(process.source.name),
                        False,
                        process.executable,
                    )
                )
                continue
            version = (latest.version if latest else 0) + 1
            definition_id = f"{process.key}:{version}:{uuid.uuid4()}"
            specs = {}
            if process.spec is not None:
                specs[process.spec.name] = self.serialize_spec(process.spec)
                for sub_name, sub_spec in process.subprocess_specs.items():
                    specs[sub_name] = self.serialize_spec(sub_spec)
            rows.append(
                {
                    "id": definition_id,
                    "key": process.key,
                    "version": version,
                    "name": process.name,
                    "deployment_id": deployment_id,
                    "resource_name": _short_name(process.source.name),
                    "content_hash": digest,
                    "bpmn_xml": process.source.content.decode("utf-8"),
                    "specs": json.dumps({"top": process.key, "specs": specs}),
                    "called": json.dumps(sorted(set(process.called_keys))),
                    "forms": json.dumps(forms),
                    "start_messages": json.dumps(process.start_messages),
                    "executable": process.executable,
                    "documentation": process.documentation,
                    "deployed_at": now,
                }
            )
            report.definitions.append(
                DeployedDefinition(
                    definition_id,
                    process.key,
                    version,
                    process.name,
                    _short_name(process.source.name),
                    True,
                    process.executable,
                )
            )
            stored.append(StoredDefinition(definition_id, process.key, process.spec, process.executable))
        if not rows:
            report.deployment_id = None
            return report
        conn.execute(
            insert(Deployment).values(
                id=deployment_id, name=name, source=source, deployed_at=now, deployed_by=actor
            )
        )
        conn.execute(insert(Definition), rows)
        for listener in self.listeners:
            listener(conn, stored, now)
        event = NewEvent(
            "deployed",
            actor,
            {
                "deployment_id": deployment_id,
                "name": name,
                "definitions": [d.to_dict() for d in report.definitions if d.new],
                "warnings": [w.to_dict() for w in report.warnings],
            },
        )
        append_to_named_chain(conn, "deployments", [event], now, {})
        return report

    @staticmethod
    def definitions_count(conn: Connection) -> int:
        return int(conn.execute(select(func.count()).select_from(Definition)).scalar_one())


def _short_name(path: str) -> str:
    return Path(path).name


def _default_name(files: list[SourceFile]) -> str:
    names = [_short_name(f.name) for f in files]
    return names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more"
