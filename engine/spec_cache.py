"""Parsed definitions, restored once per process and shared by every instance that runs them."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from threading import Lock
from typing import Any

from lxml import etree
from sqlalchemy import Connection, select

from .bpmn.dialect import camunda_attributes
from .bpmn.serializer import SPEC_KEY
from .bpmn.validation import NS
from .errors import NotFound
from .forms import Form, load_camunda_form_data, load_formjs
from .models import Definition


@dataclass
class LoadedDefinition:
    id: str
    key: str
    version: int
    name: str | None
    executable: bool
    spec: Any
    subprocess_specs: dict[str, Any]
    forms: dict[str, Form] = field(default_factory=dict)
    start_messages: list[str] = field(default_factory=list)
    # Who may start it (camunda:candidateStarterGroups / candidateStarterUsers); none named: anyone.
    starter_groups: tuple[str, ...] = ()
    starter_users: tuple[str, ...] = ()


class SpecCache:
    """Bounded cache of restored specs, keyed by definition id (definitions never change)."""

    def __init__(self, restore: Callable[[dict[str, Any]], Any], capacity: int = 256) -> None:
        self._restore = restore
        self._capacity = capacity
        self._items: OrderedDict[str, LoadedDefinition] = OrderedDict()
        self._lock = Lock()

    def get(self, conn: Connection, definition_id: str) -> LoadedDefinition:
        with self._lock:
            found = self._items.get(definition_id)
            if found is not None:
                self._items.move_to_end(definition_id)
                return found
        row = conn.execute(select(Definition).where(Definition.id == definition_id)).first()
        if row is None:
            raise NotFound(f"No process definition with id {definition_id!r}")
        loaded = self._load(row)
        with self._lock:
            self._items[definition_id] = loaded
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return loaded

    def resolve(self, key: str) -> Any:
        """The spec a stored instance refers to by ``definition id#spec name``."""
        definition_id, _, name = key.partition("#")
        with self._lock:
            loaded = self._items.get(definition_id)
        if loaded is None:
            raise LookupError(f"definition {definition_id} is not loaded")
        if name == loaded.spec.name:
            return loaded.spec
        return loaded.subprocess_specs[name]

    def _load(self, row: Any) -> LoadedDefinition:
        stored = json.loads(row.specs)
        specs: dict[str, Any] = stored["specs"]
        top_name = stored["top"]
        restored = {}
        for name, spec_dict in specs.items():
            spec = self._restore(spec_dict)
            setattr(spec, SPEC_KEY, f"{row.id}#{name}")
            restored[name] = spec
        top = restored.pop(top_name, None)
        groups, users = starters(row.bpmn_xml, row.key)
        return LoadedDefinition(
            id=row.id,
            key=row.key,
            version=row.version,
            name=row.name,
            executable=row.executable,
            spec=top,
            subprocess_specs=restored,
            forms=_forms(row),
            start_messages=json.loads(row.start_messages or "[]"),
            starter_groups=groups,
            starter_users=users,
        )


def starters(bpmn_xml: str, process_key: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The starter groups and users the stored diagram names on process ``process_key``."""
    if "candidateStarter" not in bpmn_xml:  # most diagrams name none: no need to parse
        return (), ()
    tree = etree.fromstring(bpmn_xml.encode("utf-8"), parser=etree.XMLParser(resolve_entities=False))
    for process in tree.iterfind("bpmn:process", namespaces=NS):
        if process.get("id") == process_key:
            attrs = camunda_attributes(process)
            return _names(attrs.get("candidateStarterGroups")), _names(attrs.get("candidateStarterUsers"))
    return (), ()


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def _forms(row: Any) -> dict[str, Form]:
    forms: dict[str, Form] = {}
    documents: dict[str, Any] = json.loads(row.forms or "{}")
    tree = None
    for key, document in documents.items():
        if isinstance(document, dict) and document.get("camundaFormData"):
            if tree is None:
                tree = etree.fromstring(row.bpmn_xml.encode("utf-8"))
            nodes = tree.xpath("//bpmn:userTask[@id=$id]", namespaces=NS, id=document["element"])
            if nodes:
                forms[key] = load_camunda_form_data(nodes[0], row.resource_name)
        else:
            forms[key] = load_formjs(json.dumps(document), f"{key}.form")
    return forms
