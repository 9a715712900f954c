"""Drive a deployed process from its start to its end as a tireless, agreeable staff would.

Used to check that diagrams brought from other tools really run (the corpus test and
benchmark), and usable by a designer to try a diagram before going live. Every handler
the diagram names is answered by a recording handler; user tasks are completed with
data generated from their forms; external tasks are completed as a worker would; timers
are passed by moving the engine's clock. A run ends when the instance completes, or when
it waits for something only the outside world can send (a message or a signal).

Variables that the diagram reads but nothing in it writes (a gateway condition on
``approved``, a multi-instance collection) are supplied at the start, chosen from the
literals the diagram compares them with, so that at least one path is always open.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import select

from .actors import Actor
from .bpmn.bindings import KIND_HANDLER, bindings_in
from .bpmn.conditions import condition_code
from .bpmn.dialect import BPMN_NS, ZEEBE_NS, camunda_attributes, executable_processes
from .bpmn.listeners import listeners_in
from .bpmn.validation import SourceFile
from .clock import ManualClock, as_utc
from .engine import Engine
from .errors import DefinitionError, EngineError, Problem
from .forms import Form, FormField
from .handler_registry import HandlerContext, HandlerRegistry
from .models import Subscription
from .scheduler.models import TimerStart

COMPLETED = "completed"
WAITS_FOR_MESSAGE = "waits for a message"
WAITS_FOR_SIGNAL = "waits for a signal"
WAITS_FOR_TIMER = "waits for a timer that cannot be fired"
STUCK = "stuck"
FAILED = "failed"
# Outcomes that count as having run: the case went as far as the diagram alone can take it.
RAN = frozenset({COMPLETED, WAITS_FOR_MESSAGE, WAITS_FOR_SIGNAL})

DEFAULT_MAX_STEPS = 60

# Fires the timers due at the clock's time; returns how many fired.
TimerFiring = Callable[[Engine], int]


def fire_due_work(engine: Engine) -> int:
    """What the scheduler would do at the clock's time (timers, timer starts, SLA stages)."""
    return len(engine.due.run("dry-run").fired)


@dataclass
class RunOutcome:
    process_key: str
    status: str
    detail: str = ""
    steps: int = 0
    instance_id: str | None = None

    @property
    def ran(self) -> bool:
        return self.status in RAN

    def __str__(self) -> str:
        return f"{self.process_key}: {self.status}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class RecordingHandlers:
    """Registers a handler that records its calls under every name asked for."""

    registry: HandlerRegistry
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def cover(self, names: Iterable[str]) -> None:
        for name in names:
            if name not in self.registry:
                self.registry.register(name, self._record, description="records the call (dry run)")

    def _record(self, context: HandlerContext) -> dict[str, Any]:
        self.calls.append((context.handler, context.element_id, dict(context.parameters)))
        return {}


def handler_names(tree: Any, decisions: Container[str] = frozenset()) -> list[str]:
    """The handlers the executable processes of a diagram name (explicitly, by task id, or by the
    id of a decision not among ``decisions``, the DMN decisions deployed with it)."""
    names: list[str] = []
    for process in executable_processes(tree):
        bound = [b for _, b in bindings_in(process, decisions)]
        bound.extend(x.binding for x in listeners_in(process) if x.binding is not None)
        names.extend(b.name for b in bound if b.kind == KIND_HANDLER and b.name)
    return sorted(set(names))


# -- data ---------------------------------------------------------------------------------


def sample_value(f: FormField) -> Any:
    """A value a careful person would enter: the default, else the first acceptable one."""
    if f.default not in (None, "", []):
        return f.default
    if f.options:
        first = f.options[0].value
        return [first] if f.multiple else first
    if f.type == "checkbox":
        return True
    if f.type == "number":
        low = f.min if f.min is not None and f.min > Decimal(-(2**62)) else Decimal(1)
        return int(low) if low == low.to_integral_value() else float(low)
    if f.type == "datetime":
        day = date.today() + timedelta(days=1)
        if f.subtype == "time":
            return "09:00"
        if f.subtype == "datetime":
            return f"{day.isoformat()}T09:00"
        return day.isoformat()
    if f.type in ("checklist", "taglist", "dyniclist", "dynamiclist"):
        return []
    return _sample_text(f)


def _sample_text(f: FormField) -> str:
    if f.validation_type == "email":
        return "someone@example.com"
    if f.validation_type == "phone":
        return "+4930664040900"
    text = "sample text"
    if f.min_length is not None and len(text) < f.min_length:
        text = text + "x" * (f.min_length - len(text))
    if f.max_length is not None:
        text = text[: f.max_length]
    return text


def form_data(form: Form | None) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if form is None:
        return data
    for f in form.fields:
        if f.readonly or f.disabled or (f.pattern is not None and not f.required):
            continue
        target = data
        *parents, leaf = f.key.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = sample_value(f)
    return data


def _calls(code: str) -> Iterable[ast.Call]:
    try:
        tree = ast.parse(code, mode="eval")
    except SyntaxError:
        return []
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)]


_VARIABLE_READS = ("el_var", "el_get_var")
# Calls that read a property of their first argument, named by their last (``a.b``, ``prop("b")``).
_PROPERTY_READS = ("el_prop", "feel_prop")
# Spin calls that return the node they are called on, as far as a suggested value goes.
_SAME_NODE = ("numberValue", "stringValue", "boolValue", "value")
_COMPARISONS = {
    "el_eq": "==", "feel_eq": "==", "el_ne": "!=", "feel_ne": "!=", "el_lt": "<", "feel_lt": "<",
    "el_gt": ">", "feel_gt": ">", "el_le": "<=", "feel_le": "<=", "el_ge": ">=", "feel_ge": ">=",
}  # fmt: skip
_FLIPPED = {"==": "==", "!=": "!=", "<": ">", ">": "<", "<=": ">=", ">=": "<="}


def _path(node: ast.expr) -> tuple[str, ...] | None:
    """The variable (and the keys inside it) that translated code reads, if it reads one."""
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name) or not node.args:
        return None
    function, args = node.func.id, node.args
    if function in _VARIABLE_READS and isinstance(args[0], ast.Constant):
        return (str(args[0].value),)
    base = _path(args[0])
    if base is None:
        return None
    key = args[-1] if len(args) > 1 else None
    if function in _PROPERTY_READS and isinstance(key, ast.Constant) and isinstance(key.value, str):
        return (*base, key.value)
    if function == "el_call" and len(args) >= 2 and isinstance(args[1], ast.Constant):
        method = args[1].value
        if method == "prop" and len(args) == 3 and isinstance(key, ast.Constant):
            return (*base, str(key.value))
        if method in _SAME_NODE:
            return base
    return base if function == "el_spin" else None


def _satisfying(op: str, literal: Any) -> Any:
    """A value that makes ``value <op> literal`` true."""
    if op == "==":
        return literal
    if op == "!=":
        return f"not {literal}" if isinstance(literal, str) else None
    if isinstance(literal, int | float) and not isinstance(literal, bool):
        return literal + {"<": -1, ">": 1}.get(op, 0)
    return literal


def _suggest(values: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Put ``value`` at ``path`` unless something other than the ``True`` placeholder is there."""
    target = values
    for key in path[:-1]:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    if target.get(path[-1], True) is True:
        target[path[-1]] = value


def read_variables(codes: Iterable[str]) -> dict[str, Any]:
    """Variables the translated expressions read, each with a value that opens a path.

    A variable (or a property of one, ``customer.prop("age")``) compared with a literal gets a
    value that satisfies the first such comparison; any other gets ``True``, which EL and
    Python both read as a satisfied condition.
    """
    values: dict[str, Any] = {}
    for code in codes:
        for call in _calls(code):
            function = call.func.id if isinstance(call.func, ast.Name) else ""
            if function in _COMPARISONS and len(call.args) == 2:
                left, right = call.args
                path, literal, op = _path(left), right, _COMPARISONS[function]
                if path is None:
                    path, literal, op = _path(right), left, _FLIPPED[op]
                if path is not None and isinstance(literal, ast.Constant):
                    _suggest(values, path, _satisfying(op, literal.value))
            path = _path(call)
            if path is not None:
                _suggest(values, path, True)
    return values


def suggested_variables(process: Any) -> dict[str, Any]:
    """Start variables that open a path through ``process`` (see the module docstring)."""
    codes = []
    for node in process.iter(f"{{{BPMN_NS}}}conditionExpression", f"{{{BPMN_NS}}}condition"):
        try:
            codes.append(condition_code(node.text or "", node.get("language")))
        except EngineError:
            continue  # refused at deploy; nothing to suggest
    values = read_variables(codes)
    for node in process.iter(f"{{{BPMN_NS}}}loopDataInputRef"):
        values[(node.text or "").strip()] = ["item 1", "item 2"]
    for node in process.iter(f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics"):
        zeebe = node.find(f"{{{BPMN_NS}}}extensionElements/{{{ZEEBE_NS}}}loopCharacteristics")
        collection = camunda_attributes(node).get("collection") or (
            zeebe.get("inputCollection", "") if zeebe is not None else ""
        )
        name = collection.strip().lstrip("$#{=").rstrip("}").strip()
        if name.isidentifier():
            values[name] = ["item 1", "item 2"]
    return values


def declared_outputs(task_node: Any) -> list[str]:
    """The data outputs a task's ioSpecification declares (SpiffWorkflow requires them at completion)."""
    return [
        str(output.get("name") or output.get("id"))
        for output in task_node.iterfind(f"{{{BPMN_NS}}}ioSpecification/{{{BPMN_NS}}}dataOutput")
    ]


# -- driving ------------------------------------------------------------------------------


class DryRun:
    """Drives instances of deployed definitions on ``engine`` (whose clock must be manual)."""

    def __init__(
        self,
        engine: Engine,
        clock: ManualClock,
        actor: Actor | None = None,
        fire_timers: TimerFiring | None = fire_due_work,
        max_steps: int = DEFAULT_MAX_STEPS,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.actor = actor or Actor.operator("dry-run")
        self.fire_timers = fire_timers
        self.max_steps = max_steps

    def run(self, definition_id: str, variables: Mapping[str, Any] | None = None) -> RunOutcome:
        definition = self.engine.queries.definition(definition_id)
        key = str(definition["key"])
        self.document = etree.fromstring(self.engine.queries.definition_xml(definition_id).encode("utf-8"))
        process = self.document.find(f"{{{BPMN_NS}}}process[@id='{key}']")
        self.suggested = suggested_variables(process) if process is not None else {}
        try:
            instance_id = self._start(
                process, definition_id, definition, {**self.suggested, **(variables or {})}
            )
        except EngineError as exc:
            return RunOutcome(key, FAILED, f"start: {exc.message}")
        if instance_id is None:
            return RunOutcome(key, STUCK, "the process has no start event this run can trigger")
        return self._drive(key, instance_id)

    def _start(
        self, process: Any, definition_id: str, definition: Mapping[str, Any], variables: dict[str, Any]
    ) -> str | None:
        starts = [] if process is None else process.findall(f"{{{BPMN_NS}}}startEvent")
        plain = [
            s for s in starts if not any(etree.QName(c).localname.endswith("EventDefinition") for c in s)
        ]
        messages = list(definition.get("start_messages") or [])
        timed = [s for s in starts if s.find(f"{{{BPMN_NS}}}timerEventDefinition") is not None]
        if not plain and not messages and timed:
            return self._start_by_timer(definition_id)
        if plain or not messages:
            return self.engine.runtime.start(
                actor=self.actor, definition_id=definition_id, variables=variables
            )
        touched = self.engine.runtime.correlate(messages[0], actor=self.actor, variables=variables)
        return touched[0] if touched else None

    def _start_by_timer(self, definition_id: str) -> str | None:
        """Move the clock to the process's first timer start and let the scheduler start it."""
        if self.fire_timers is None:
            return None
        with self.engine.db.transaction(write=False) as conn:
            due = conn.execute(
                select(TimerStart.due_at)
                .where(TimerStart.definition_id == definition_id, TimerStart.due_at.is_not(None))
                .order_by(TimerStart.due_at)
            ).scalar()
        if due is None:
            return None
        if as_utc(due) > self.clock.now():
            self.clock.set(as_utc(due))
        self.fire_timers(self.engine)
        with self.engine.db.transaction(write=False) as conn:
            started: str | None = conn.execute(
                select(TimerStart.last_instance_id)
                .where(TimerStart.definition_id == definition_id, TimerStart.last_instance_id.is_not(None))
                .order_by(TimerStart.fired.desc())
            ).scalar()
        return started

    def _drive(self, key: str, instance_id: str) -> RunOutcome:
        outcome = RunOutcome(key, STUCK, instance_id=instance_id)
        for step in range(1, self.max_steps + 1):
            outcome.steps = step
            state = self.engine.queries.instance(instance_id)
            if state["status"] == COMPLETED:
                outcome.status = COMPLETED
                return outcome
            if state["open_incidents"]:
                outcome.status, outcome.detail = FAILED, f"incident: {state['open_incidents'][0]['message']}"
                return outcome
            try:
                if self._work_on(state["tasks"]):
                    continue
            except EngineError as exc:
                outcome.status, outcome.detail = FAILED, exc.message
                return outcome
            waiting = self._waits(instance_id)
            if waiting is not None:
                outcome.status, outcome.detail = waiting
                if outcome.status != WAITS_FOR_TIMER:
                    return outcome
                if not self._pass_timer(instance_id):
                    return outcome
                continue
            outcome.detail = "nothing to do and nothing to wait for"
            return outcome
        outcome.detail = f"still running after {self.max_steps} steps"
        return outcome

    def _work_on(self, tasks: list[dict[str, Any]]) -> bool:
        for task in tasks:
            if task["kind"] == "user":
                data = form_data(self._form(task))
                for node in self.document.iterfind(f".//*[@id='{task['element_id']}']"):
                    for name in declared_outputs(node):
                        data.setdefault(name, self.suggested.get(name, "sample text"))
                self.engine.runtime.complete_task(task["id"], data, self.actor)
                return True
            if task["kind"] == "external":
                self.engine.runtime.complete_external(task["id"], {}, self.actor)
                return True
        return False

    def _form(self, task: Mapping[str, Any]) -> Form | None:
        if not task.get("form_key"):
            return None
        with self.engine.db.transaction(write=False) as conn:
            definition = self.engine.specs.get(conn, task["definition_id"])
        return definition.forms.get(task["form_key"])

    def _waits(self, instance_id: str) -> tuple[str, str] | None:
        with self.engine.db.transaction(write=False) as conn:
            live = self.engine.store.load(conn, instance_id)
        pending = live.workflow.waiting_events()
        # PendingBpmnEvent names its definition's class: MessageEventDefinition, ...
        by_type: dict[str, list[str]] = {}
        for event in pending:
            by_type.setdefault(str(event.event_type), []).append(str(event.name or ""))
        for marker, status in (
            ("Message", WAITS_FOR_MESSAGE),
            ("Signal", WAITS_FOR_SIGNAL),
            ("Timer", WAITS_FOR_TIMER),
        ):
            names = [n for t, found in by_type.items() if marker in t for n in found]
            if names:
                return status, ", ".join(sorted(set(names)))
        if pending:
            return WAITS_FOR_SIGNAL, ", ".join(sorted(by_type))
        return None

    def _pass_timer(self, instance_id: str) -> bool:
        """Move the clock past the instance's next timer and let it fire."""
        if self.fire_timers is None:
            return False
        with self.engine.db.transaction(write=False) as conn:
            due = (
                conn.execute(
                    select(Subscription.due_at)
                    .where(Subscription.instance_id == instance_id, Subscription.kind == "timer")
                    .order_by(Subscription.due_at)
                )
                .scalars()
                .first()
            )
        if due is not None and as_utc(due) > self.clock.now():
            self.clock.set(as_utc(due) + timedelta(seconds=1))
        elif due is None:
            self.clock.advance(timedelta(days=1))
        return self.fire_timers(self.engine) > 0


@dataclass
class FileOutcome:
    """What became of one diagram: deployed (with each executable process's run) or refused."""

    name: str
    refused: list[Problem] = field(default_factory=list)
    runs: list[RunOutcome] = field(default_factory=list)
    # Processes not marked isExecutable="false" (they count, deployed or not).
    executable: int = 0
    diagrams_only: int = 0

    @property
    def ran(self) -> int:
        return sum(1 for r in self.runs if r.ran)

    def summary(self) -> str:
        if self.refused:
            reasons = "; ".join(str(p.message) for p in self.refused[:3])
            more = f" (and {len(self.refused) - 3} more)" if len(self.refused) > 3 else ""
            return f"refused: {reasons}{more}"
        parts = [str(r) for r in self.runs]
        if self.diagrams_only:
            parts.append(f'{self.diagrams_only} process(es) stored as diagrams (isExecutable="false")')
        return "deployed; " + "; ".join(parts)


def _processes_and_calls(path: Path) -> tuple[set[str], set[str]]:
    try:
        root = etree.fromstring(path.read_bytes(), parser=etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError:
        return set(), set()
    defined = {str(p.get("id")) for p in root.iter(f"{{{BPMN_NS}}}process")}
    called = {
        str(c.get("calledElement")) for c in root.iter(f"{{{BPMN_NS}}}callActivity") if c.get("calledElement")
    }
    called.update(
        str(c.get("processId")) for c in root.iter(f"{{{ZEEBE_NS}}}calledElement") if c.get("processId")
    )
    return defined, called - defined


def deploy_order(paths: Iterable[Path]) -> list[Path]:
    """The files in name order, except that a file comes after the files whose processes it calls.

    A call activity into another file's process deploys only once that process is deployed.
    """
    ordered = sorted(paths, key=lambda p: p.name)
    facts = {path: _processes_and_calls(path) for path in ordered}
    owner = {key: path for path, (defined, _) in facts.items() for key in defined}
    placed: list[Path] = []
    visiting: set[Path] = set()

    def place(path: Path) -> None:
        if path in placed or path in visiting:
            return  # placed already, or a cycle of calls: name order decides
        visiting.add(path)
        for key in sorted(facts[path][1]):
            if key in owner:
                place(owner[key])
        visiting.discard(path)
        placed.append(path)

    for path in ordered:
        place(path)
    return placed


def run_file(engine: Engine, dry_run: DryRun, recorder: RecordingHandlers, path: Path) -> FileOutcome:
    """Deploy one diagram (with recording handlers for what it names) and run what it deploys."""
    content = path.read_bytes()
    outcome = FileOutcome(path.name)
    try:
        root = etree.fromstring(content)
    except etree.XMLSyntaxError as exc:
        outcome.refused = [Problem(f"Not well-formed XML: {exc.msg}", path.name, code="xml")]
        return outcome
    processes = list(root.iter(f"{{{BPMN_NS}}}process"))
    outcome.executable = len(executable_processes(root))
    outcome.diagrams_only = len(processes) - outcome.executable
    recorder.cover(handler_names(root))
    try:
        report = engine.deployer.deploy([SourceFile(path.name, content)], actor="dry-run")
    except DefinitionError as exc:
        outcome.refused = exc.problems
        return outcome
    for definition in report.definitions:
        if definition.executable:
            outcome.runs.append(dry_run.run(definition.id))
    return outcome
