"""Everything a diagram is checked for before anything is stored.

In order: well-formed XML, the BPMN 2.0 / DMN XSD (every violation, with its line), then
SpiffWorkflow's own parse, then the engine's semantic checks (handlers, forms, timers,
scripts and conditions, gateways). Problems are collected, not raised one at a time, so a
designer sees the whole list at once; each names the file, the line and the element.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser.process import VALIDATOR

from ..errors import DefinitionError, Problem, ScriptRefused
from ..expressions import is_el
from ..forms import Form, load_camunda_form_data
from ..handler_registry import HandlerRegistry
from ..sandbox import check_source
from .assignment import task_attributes
from .bindings import KIND_EXTERNAL, Binding, binding_of
from .camunda_io import connector_parameters, read_mapping
from .conditions import condition_code, expression_code
from .cron import CronError, is_cron
from .cron import trigger as cron_trigger
from .dialect import (
    BPMN_NS,
    CAMUNDA_NS,
    NS,
    SPIFF_NS,
    camunda_attributes,
    camunda_children,
    executable_processes,
    is_executable,
    local_name,
)
from .listeners import Listener, listeners_in, refusal
from .normalize import is_underspecified_loop, normalize
from .parser import EngineParser
from .timers import check_iso_timer, is_iso_literal

__all__ = ["BPMN_NS", "CAMUNDA_NS", "NS", "SPIFF_NS"]  # re-exported: older callers import them here

DMN_NAMESPACES = (
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
)
# Activities out of which a conditional sequence flow cannot be taken (only gateways decide).
_GATEWAYS = frozenset(
    {"exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway"}
)
# formKey prefixes of Camunda's HTML forms, which live in a web application, not in forms/.
EXTERNAL_FORM_PREFIXES = ("embedded:", "app:", "deployment:")
# Camunda Forms kept in the process application's web resources (used when forms/ lacks the file).
WEB_APPLICATION_FORMS = "camunda-forms:app:"
# Camunda Forms the deployment itself should contain.
DEPLOYMENT_FORMS = ("camunda-forms:deployment:",)


@dataclass
class SourceFile:
    name: str
    content: bytes


@dataclass
class ParsedDocument:
    source: SourceFile
    tree: Any
    kind: str  # bpmn | dmn

    def line_of(self, element_id: str | None) -> int | None:
        if not element_id:
            return None
        found = self.tree.xpath("//*[@id=$id]", id=element_id)
        return found[0].sourceline if found else None


@dataclass
class ParsedProcess:
    key: str
    name: str | None
    executable: bool
    source: SourceFile
    documentation: str | None
    spec: Any = None
    subprocess_specs: dict[str, Any] = field(default_factory=dict)
    start_messages: list[str] = field(default_factory=list)
    called_keys: list[str] = field(default_factory=list)
    form_keys: list[str] = field(default_factory=list)


@dataclass
class ValidatedDeployment:
    processes: list[ParsedProcess]
    forms: dict[str, Form]
    # {file name: {form key: form document}}: the forms each file's user tasks show.
    form_documents: dict[str, dict[str, Any]]
    warnings: list[Problem]


# A form looked up by key: the parsed form and its raw document, or None if there is none.
FormLookup = Callable[[str], tuple[Form, Any] | None]
# The XML of an already deployed process, for call activities into another file.
ProcessLookup = Callable[[str], SourceFile | None]


# How what BPMN leaves open is read. "strict" refuses it as a modelling mistake; "camunda"
# deploys it with a warning and reads it as Camunda 7 does:
# - an exclusive gateway whose outgoing flows lack conditions and a default: a flow without a
#   condition is taken as true;
# - a standard loop with neither loopCondition nor loopMaximum: the activity runs once;
# - a form the deployment should contain (camunda-forms:deployment:) but does not: the task
#   takes any JSON object (Camunda fails only when someone opens the form).
GATEWAY_POLICIES = ("strict", "camunda")


class DeploymentValidator:
    def __init__(
        self,
        handlers: HandlerRegistry,
        forms: FormLookup,
        deployed: ProcessLookup,
        gateway_policy: str = "strict",
    ) -> None:
        if gateway_policy not in GATEWAY_POLICIES:
            raise ValueError(f"gateway_policy must be one of {GATEWAY_POLICIES}, not {gateway_policy!r}")
        self.handlers = handlers
        self.forms = forms
        self.deployed = deployed
        self.gateway_policy = gateway_policy
        self.current_documents: list[ParsedDocument] = []

    def validate(self, files: Iterable[SourceFile]) -> ValidatedDeployment:
        problems: list[Problem] = []
        documents = [doc for doc in (self._read(f, problems) for f in files) if doc is not None]
        self.current_documents = documents
        if problems:
            raise DefinitionError(problems)
        for doc in documents:
            self._check_schema(doc, problems)
        if problems:
            raise DefinitionError(problems)
        checks = SemanticChecks(self, problems)
        for doc in documents:
            if doc.kind == "bpmn":
                checks.check(doc)
        # Stage by stage, like the XSD stage before: SpiffWorkflow's parse would mostly restate
        # the semantic problems, less precisely.
        if problems:
            raise DefinitionError(problems)
        processes = self._parse(documents, problems)
        if problems:
            raise DefinitionError(problems)
        if not processes:
            raise DefinitionError([Problem("No BPMN process found in the deployment")])
        return ValidatedDeployment(processes, checks.forms, checks.form_documents, checks.warnings)

    def _read(self, source: SourceFile, problems: list[Problem]) -> ParsedDocument | None:
        try:
            parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=False)
            tree = etree.fromstring(source.content, parser=parser).getroottree()
        except etree.XMLSyntaxError as exc:
            line = exc.lineno if hasattr(exc, "lineno") else None
            problems.append(Problem(f"Not well-formed XML: {exc.msg}", source.name, line, code="xml"))
            return None
        root = etree.QName(tree.getroot())
        if root.namespace == BPMN_NS and root.localname == "definitions":
            return ParsedDocument(source, tree, "bpmn")
        if root.localname == "definitions" and root.namespace in DMN_NAMESPACES:
            return ParsedDocument(source, tree, "dmn")
        problems.append(
            Problem(
                f"Not a BPMN 2.0 or DMN file: the root element is {{{root.namespace}}}{root.localname}",
                source.name,
                tree.getroot().sourceline,
                code="xml",
            )
        )
        return None

    def _check_schema(self, doc: ParsedDocument, problems: list[Problem]) -> None:
        if doc.kind != "bpmn":
            return  # SpiffWorkflow validates DMN against its own XSDs while parsing
        VALIDATOR.preprocess(doc.tree)
        schema = VALIDATOR.validator
        if schema.validate(doc.tree):
            return
        for error in schema.error_log:
            element_id = None
            problems.append(
                Problem(f"XSD: {error.message}", doc.source.name, error.line, element_id, code="xsd")
            )

    def _parse(self, documents: list[ParsedDocument], problems: list[Problem]) -> list[ParsedProcess]:
        parser = EngineParser(validator=None)
        processes: list[ParsedProcess] = []
        try:
            for doc in documents:
                if doc.kind == "dmn":
                    parser.add_dmn_xml(doc.tree.getroot(), filename=doc.source.name)
            for doc in documents:
                if doc.kind == "bpmn":
                    parser.add_bpmn_xml(self._normalized(doc, problems), filename=doc.source.name)
                    processes.extend(_processes_in(doc))
        except ValidationException as exc:
            problems.append(_problem_from_spiff(exc))
            return []
        if problems:
            return []
        self._add_called_processes(parser, processes, documents, problems)
        if problems:
            return []  # SpiffWorkflow would restate a missing called process less precisely
        for process in processes:
            if not process.executable:
                continue
            try:
                process.spec = parser.get_spec(process.key)
                process.subprocess_specs = parser.get_subprocess_specs(process.key)
            except ValidationException as exc:
                problems.append(_problem_from_spiff(exc))
        return processes

    @property
    def camunda_reading(self) -> bool:
        """Whether what BPMN leaves open is read as Camunda 7 reads it (see GATEWAY_POLICIES)."""
        return self.gateway_policy == "camunda"

    def _normalized(self, doc: ParsedDocument, problems: list[Problem]) -> Any:
        """A copy of the document in the explicit form SpiffWorkflow parses (the stored file is unchanged)."""
        tree = copy.deepcopy(doc.tree)
        problems.extend(normalize(tree, doc.source.name, self.camunda_reading))
        return tree

    def _add_called_processes(
        self,
        parser: EngineParser,
        processes: list[ParsedProcess],
        documents: list[ParsedDocument],
        problems: list[Problem],
    ) -> None:
        """Call activities may call processes deployed earlier, from other files."""
        known = {p.key for p in processes}
        pending = [(doc, p) for doc in documents if doc.kind == "bpmn" for p in _called_elements(doc)]
        while pending:
            doc, (element, called) = pending.pop()
            if called in known:
                continue
            source = self.deployed(called)
            if source is None:
                problems.append(
                    Problem(
                        f"Call activity calls process {called!r}, which is neither in this deployment "
                        "nor deployed",
                        doc.source.name,
                        element.sourceline,
                        element.get("id"),
                        code="call_activity",
                    )
                )
                continue
            tree = etree.fromstring(source.content).getroottree()
            extra = ParsedDocument(source, tree, "bpmn")
            parser.add_bpmn_xml(self._normalized(extra, problems), filename=source.name)
            known.update(p.key for p in _processes_in(extra))
            pending.extend((extra, c) for c in _called_elements(extra))


def _processes_in(doc: ParsedDocument) -> list[ParsedProcess]:
    found = []
    for node in doc.tree.getroot().iterfind(f"{{{BPMN_NS}}}process"):
        documentation = node.findtext(f"{{{BPMN_NS}}}documentation")
        starts = [
            msg
            for msg in (
                _message_name(doc, ref)
                for ref in node.xpath(
                    "./bpmn:startEvent/bpmn:messageEventDefinition/@messageRef", namespaces=NS
                )
            )
            if msg
        ]
        found.append(
            ParsedProcess(
                key=node.get("id"),
                name=node.get("name"),
                executable=is_executable(node),
                source=doc.source,
                documentation=documentation,
                start_messages=starts,
                called_keys=[c for _, c in _called_elements(doc)],
            )
        )
    return found


def _message_name(doc: ParsedDocument, ref: str) -> str | None:
    found = doc.tree.xpath("//bpmn:message[@id=$id]", namespaces=NS, id=ref)
    return str(found[0].get("name") or ref) if found else ref


def _called_elements(doc: ParsedDocument) -> list[tuple[Any, str]]:
    """Call activities of the executable processes (a diagram to view calls nothing)."""
    return [
        (node, node.get("calledElement"))
        for process in executable_processes(doc.tree.getroot())
        for node in process.xpath(".//bpmn:callActivity[@calledElement]", namespaces=NS)
    ]


def _problem_from_spiff(exc: ValidationException) -> Problem:
    line = getattr(exc, "line_number", None) or getattr(exc, "sourceline", None)
    element = getattr(exc, "id", None)
    file = getattr(exc, "file_name", None) or None
    message = str(getattr(exc, "message", None) or exc).split("\n")[0]
    return Problem(message, file, int(line) if line else None, element, code="bpmn")


class SemanticChecks:
    """Checks of what SpiffWorkflow would only find out at run time."""

    def __init__(self, validator: DeploymentValidator, problems: list[Problem]) -> None:
        self.validator = validator
        self.problems = problems
        self.warnings: list[Problem] = []
        self.forms: dict[str, Form] = {}
        self.form_documents: dict[str, dict[str, Any]] = {}

    def check(self, doc: ParsedDocument) -> None:
        self.doc = doc
        root = doc.tree.getroot()
        for process in root.iter(f"{{{BPMN_NS}}}process"):
            if not is_executable(process):
                self.warnings.append(
                    Problem(
                        f'Process {process.get("id")!r} is marked isExecutable="false": it is stored as a '
                        "diagram to view and cannot be started",
                        doc.source.name,
                        process.sourceline,
                        process.get("id"),
                        code="not_executable",
                    )
                )
        # Only what can run is checked: a diagram drawn for documentation deploys as it is.
        for process in executable_processes(root):
            self._check_starters(process)
            self._check_process(process)

    def _check_starters(self, process: Any) -> None:
        attrs = camunda_attributes(process)
        for attr in ("candidateStarterGroups", "candidateStarterUsers"):
            if is_el(attrs.get(attr) or ""):
                message = f"camunda:{attr} must list names separated by commas, not an expression"
                self._problem(message, process, "starter")

    def _check_process(self, process: Any) -> None:
        decisions = self._decisions()
        checks: dict[str, Callable[[Any], None]] = {
            "userTask": self._check_user_task,
            "conditionExpression": self._check_condition,
            "condition": self._check_condition,
            "completionCondition": self._check_condition,
            "loopCondition": self._check_condition,
            "timerEventDefinition": self._check_timer,
            "sequenceFlow": self._check_flow,
            "exclusiveGateway": self._check_gateway,
            "standardLoopCharacteristics": self._check_loop,
        }
        for node in process.iter():
            if not isinstance(node.tag, str) or etree.QName(node).namespace != BPMN_NS:
                continue
            tag = local_name(node)
            if tag == "extensionElements" or node.getparent().tag == f"{{{BPMN_NS}}}extensionElements":
                continue
            binding = binding_of(node, decisions)
            if binding is not None:
                self._check_binding(node, binding)
            elif tag == "scriptTask":
                self._check_script_task(node)
            check = checks.get(tag)
            if check is not None:
                check(node)
            self._check_mapping(node)
        for listener in listeners_in(process):
            self._check_listener(listener)
        for node in process.xpath(".//spiffworkflow:preScript | .//spiffworkflow:postScript", namespaces=NS):
            self._check_code(node.text or "", "exec", node.getparent().getparent(), node.sourceline)

    def _check_listener(self, listener: Listener) -> None:
        reason = refusal(listener)
        if reason is not None:
            self._problem(reason, listener.node, "listener")
        elif listener.script is not None:
            self._check_code(listener.script, "exec", listener.node, listener.node.sourceline)
        elif listener.binding is not None:
            self._check_binding(listener.node, listener.binding)

    def _decisions(self) -> set[str]:
        """The ids of the DMN decisions deployed together with the diagram."""
        return {
            str(d.get("id"))
            for doc in self.validator.current_documents
            if doc.kind == "dmn"
            for d in doc.tree.getroot().iter()
            if isinstance(d.tag, str) and etree.QName(d).localname == "decision"
        }

    def _problem(self, message: str, node: Any, code: str, line: int | None = None) -> None:
        self.problems.append(
            Problem(message, self.doc.source.name, line or node.sourceline, _element_id(node), code=code)
        )

    def _check_binding(self, node: Any, binding: Binding) -> None:
        if binding.kind == KIND_EXTERNAL:
            if not binding.name:
                self._problem(f"An external task ({binding.how}) needs a topic", node, "handler")
            return
        if binding.name in self.validator.handlers:
            return
        known = ", ".join(self.validator.handlers.names()) or "none"
        register = f"register a Python handler named {binding.name!r} (registered handlers: {known})"
        how = binding.how
        if how == "camunda:delegateExpression" and binding.name.startswith(("${", "#{")):
            message = f"camunda:delegateExpression must name a handler as ${{name}}, not {binding.name!r}"
        elif how in ("camunda:delegateExpression", "spiffworkflow:serviceTaskOperator"):
            message = f"Unknown handler {binding.name!r} ({how}); registered handlers: {known}"
        elif how == "camunda:class":
            message = f"A Java class ({binding.name!r}) cannot run in this engine; {register}"
        elif how == "camunda:expression":
            message = f"A Java expression ({binding.name!r}) cannot run in this engine; {register}"
        elif how == "camunda:connector":
            if not binding.name:
                self._problem("A camunda:connector needs a camunda:connectorId", node, "handler")
                return
            message = f"The Camunda connector {binding.name!r} cannot run in this engine; {register}"
        elif how.startswith("the decision id"):
            message = (
                f"Business rule task calls decision {binding.name!r}, which is not in this deployment; "
                f"deploy its DMN file with the diagram, or {register}"
            )
        elif "script" in how:
            language = how.split("(")[-1].rstrip(")").replace("a script ", "")
            message = f"Scripts {language} cannot run in this engine; write it in Python or {register}"
        else:
            message = (
                f"The task names no implementation, so it runs the handler named after its id; {register}, "
                'or bind it with camunda:delegateExpression="${name}" or camunda:type="external"'
            )
        self._problem(message, node, "handler")

    def _check_script_task(self, node: Any) -> None:
        script = node.find(f"{{{BPMN_NS}}}script")
        if script is not None and script.text:
            self._check_code(script.text, "exec", node, script.sourceline)

    def _check_code(self, source: str, mode: str, node: Any, line: int | None) -> None:
        try:
            check_source(source, mode=mode)  # type: ignore[arg-type]
        except ScriptRefused as exc:
            at = (line or node.sourceline or 0) + ((exc.line or 1) - 1) if line or node.sourceline else None
            self._problem(f"Script refused: {exc.message}", node, "script", at)

    def _check_expression(self, text: str, node: Any, line: int | None, what: str) -> None:
        try:
            code = expression_code(text)
        except ScriptRefused as exc:
            self._problem(f"{what}: {exc.message}", node, "expression", line)
            return
        self._check_code(code, "eval", node, line)

    def _check_condition(self, node: Any) -> None:
        text = (node.text or "").strip()
        owner = node.getparent()
        if not text:
            if local_name(node) == "condition":
                self._problem("A conditional event needs a condition", owner, "expression")
            return
        try:
            code = condition_code(text, node.get("language"))
        except ScriptRefused as exc:
            self._problem(f"Condition: {exc.message}", owner, "expression", node.sourceline)
            return
        self._check_code(code, "eval", owner, node.sourceline)

    def _check_gateway(self, node: Any) -> None:
        flows = node.getparent().xpath(
            "./bpmn:sequenceFlow[@sourceRef=$id]", namespaces=NS, id=node.get("id")
        )
        if len(flows) < 2 or node.get("default"):
            return
        missing = [f.get("id") for f in flows if f.find(f"{{{BPMN_NS}}}conditionExpression") is None]
        if not missing:
            return
        self._underspecified(
            f"Exclusive gateway has outgoing flows without a condition ({', '.join(missing)}) "
            "and no default flow",
            "give each flow a condition or mark one as the default",
            "as in Camunda, a flow without a condition is taken as true",
            node,
            "gateway",
        )

    def _check_loop(self, node: Any) -> None:
        if is_underspecified_loop(node):
            self._underspecified(
                "A loopMaximum or loopCondition must be specified for a standard loop",
                "without either the loop never ends",
                "the activity runs once, as in Camunda 7, which has no standard loops",
                node,
                "loop",
            )

    def _underspecified(self, what: str, fix: str, reading: str, node: Any, code: str) -> None:
        """Something BPMN leaves open: refused, or under Camunda's reading a warning saying how it is read."""
        if not self.validator.camunda_reading:
            self._problem(f"{what}; {fix}", node, code)
            return
        self.warnings.append(
            Problem(f"{what}; {reading}", self.doc.source.name, node.sourceline, _element_id(node), code=code)
        )

    def _check_flow(self, node: Any) -> None:
        if node.find(f"{{{BPMN_NS}}}conditionExpression") is None:
            return
        source = node.getparent().xpath("./*[@id=$id]", id=node.get("sourceRef"))
        if source and local_name(source[0]) not in _GATEWAYS:
            self._problem(
                "A conditional sequence flow out of an activity is not supported; put an exclusive gateway "
                "after the activity and move the condition onto its outgoing flow",
                node,
                "gateway",
            )

    def _check_mapping(self, node: Any) -> None:
        if (
            next(camunda_children(node, "inputOutput"), None) is not None
            or node.find(f"{{{BPMN_NS}}}extensionElements/{{http://camunda.org/schema/zeebe/1.0}}ioMapping")
            is not None
        ):
            self.problems.extend(read_mapping(node, self.doc.source.name).problems)
        if next(camunda_children(node, "connector"), None) is not None:
            self.problems.extend(connector_parameters(node, self.doc.source.name)[1].problems)

    def _check_timer(self, node: Any) -> None:
        event = node.getparent()
        for kind in ("timeDate", "timeDuration", "timeCycle"):
            child = node.find(f"{{{BPMN_NS}}}{kind}")
            if child is None:
                continue
            text = (child.text or "").strip()
            if not text:
                self._problem(f"The timer's {kind} is empty", event, "timer", child.sourceline)
                return
            literal = _quoted_literal(text) or (text if is_iso_literal(text) else None)
            if literal is not None:
                try:
                    check_iso_timer(kind, literal)
                except ValueError as exc:
                    self._problem(f"Unparsable timer: {exc}", event, "timer", child.sourceline)
            elif is_cron(text):
                self._check_cron(kind, text, event, child.sourceline)
            else:
                self._check_expression(text, event, child.sourceline, "Timer expression")
            return
        self._problem("A timer event needs a timeDate, timeDuration or timeCycle", event, "timer")

    def _check_cron(self, kind: str, text: str, event: Any, line: int | None) -> None:
        if kind != "timeCycle":
            self._problem(
                f"Unparsable timer: {text!r} is a cron expression, which only a timeCycle can be",
                event,
                "timer",
                line,
            )
            return
        try:
            cron_trigger(text)
        except CronError as exc:
            self._problem(f"Unparsable timer: {exc}", event, "timer", line)

    def _check_user_task(self, node: Any) -> None:
        attrs = camunda_attributes(node)
        for attr, value in task_attributes(node).items():
            if is_el(value) or value.strip().startswith("="):  # EL, or FEEL as Camunda 8 writes it
                self._check_expression(value, node, None, f"camunda:{attr}")
        if next(camunda_children(node, "formData"), None) is not None:
            self._load_form_data(node)
            return
        key = form_key(attrs)
        if key is None:
            return
        if key.startswith(EXTERNAL_FORM_PREFIXES) and not key.endswith(".form"):
            self._web_application_form(key, node)
            return
        found = self.validator.forms(key)
        if found is not None:
            self.forms[key] = found[0]
            self.form_documents.setdefault(self.doc.source.name, {})[key] = found[1]
            return
        written = attrs.get("formRef") or attrs.get("formKey") or ""
        if written.startswith(WEB_APPLICATION_FORMS):
            self._web_application_form(written, node)
        elif written.startswith(DEPLOYMENT_FORMS):
            self._underspecified(
                f"Missing form file for form {key!r} (expected forms/{key}.form)",
                "deploy the form with the diagram",
                "the task takes any JSON object (Camunda fails only when someone opens the form)",
                node,
                "form",
            )
        else:
            self._problem(f"Missing form file for form {key!r} (expected forms/{key}.form)", node, "form")

    def _web_application_form(self, key: str, node: Any) -> None:
        self.warnings.append(
            Problem(
                f"Form {key!r} is a web-application form this engine cannot show; the task takes any "
                "JSON object",
                self.doc.source.name,
                node.sourceline,
                node.get("id"),
                code="form",
            )
        )

    def _load_form_data(self, node: Any) -> None:
        from ..errors import DefinitionError as _DefinitionError

        try:
            form = load_camunda_form_data(node, self.doc.source.name)
        except _DefinitionError as exc:
            self.problems.extend(exc.problems)
            return
        key = f"camunda-form-data:{node.get('id')}"
        self.forms[key] = form
        self.form_documents.setdefault(self.doc.source.name, {})[key] = {
            "camundaFormData": True,
            "element": node.get("id"),
        }


def form_key(camunda_attrs: dict[str, str]) -> str | None:
    """The form a user task names, normalised to a key of forms/ (``x`` for ``forms/x.form``)."""
    key = camunda_attrs.get("formRef") or camunda_attrs.get("formKey")
    if not key:
        return None
    if key.startswith("camunda-forms:"):
        key = key.rsplit(":", 1)[-1]
    if key.endswith(".form"):
        key = key.rsplit("/", 1)[-1][: -len(".form")]
    return key


def _quoted_literal(text: str) -> str | None:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        inner = text[1:-1]
        return inner if is_iso_literal(inner) else None
    return None


def _element_id(node: Any) -> str | None:
    while node is not None:
        if node.get("id"):
            return str(node.get("id"))
        node = node.getparent()
    return None
