"""The engine's BPMN parser: SpiffWorkflow's, taught to read what Camunda Modeler and other tools write.

Diagrams come from bpmn-js-spiffworkflow (``spiffworkflow:`` extension elements), Camunda
Modeler 7 and 8 (``camunda:`` / ``zeebe:``), and tools such as Signavio or Trisotech. All
of it is done through SpiffWorkflow's parser-class hooks:

* ``parse_extensions``: Camunda's attributes land in a task spec's ``extensions`` dict
  (``camunda:<name>``), so the rest of the engine reads one place;
* ``create_task``: tasks that do work are bound through ``bindings`` (handler or external
  topic); Camunda input/output mappings become the task's pre- and post-script;
* ``parse_condition``: conditions in EL, FEEL, XPath or Python are translated once, here;
  a flow without a condition out of a gateway is taken as true, as Camunda does;
* ``handles_multiple_outgoing``: several flows out of an activity are an implicit
  parallel split, as BPMN says.

The structural rewrites that have no parser hook (implicit start events, link events,
data stores, missing ids) are in ``normalize``.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.task_parsers import ConditionalGatewayParser
from SpiffWorkflow.bpmn.specs.defaults import (
    BoundaryEvent,
    EndEvent,
    ExclusiveGateway,
    InclusiveGateway,
    IntermediateCatchEvent,
    IntermediateThrowEvent,
    StartEvent,
)
from SpiffWorkflow.bpmn.specs.event_definitions.conditional import ConditionalEventDefinition
from SpiffWorkflow.spiff.parser.event_parsers import (
    SpiffEndEventParser,
    SpiffIntermediateThrowEventParser,
    SpiffReceiveTaskParser,
    SpiffSendTaskParser,
)
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import (
    BusinessRuleTaskParser,
    CallActivityParser,
    ScriptTaskParser,
    SpiffTaskParser,
    SubWorkflowParser,
    UserTaskParser,
)
from SpiffWorkflow.spiff.specs.defaults import (
    CallActivity,
    ManualTask,
    NoneTask,
    ReceiveTask,
    ScriptTask,
    SendTask,
    SubWorkflowTask,
    UserTask,
)

from .assignment import CODE_PREFIX, task_attributes, translated
from .bindings import KIND_EXTERNAL, Binding, binding_of, decision_ref
from .bindings import delegate_name as delegate_name  # re-exported: validation and older callers
from .bindings import result_variable as bound_result_variable
from .camunda_io import combine, connector_parameters, read_mapping
from .conditions import condition_code, expression_code
from .continuations import CONTINUATION, ContinuationTimerEventDefinition
from .dialect import BPMN_NS, CAMUNDA_NS, ZEEBE_NS, camunda_attributes, camunda_children
from .specs import EngineServiceTask
from .timers import (
    EngineBoundaryEventParser,
    EngineIntermediateCatchEventParser,
    EngineStartEventParser,
)

NSMAP = {"camunda": CAMUNDA_NS}


class CamundaAware:
    """Mixed into SpiffWorkflow's task parsers (before them in the class bases)."""

    node: Any
    process_parser: Any
    filename: str | None
    bpmn_id: str
    spec: Any

    def parse_extensions(self, node: Any = None) -> dict[str, Any]:
        node = self.node if node is None else node
        extensions: dict[str, Any] = super().parse_extensions(node)  # type: ignore[misc]
        extensions.update({f"camunda:{k}": v for k, v in camunda_attributes(node).items()})
        assignment = task_attributes(node)
        extensions.update({f"camunda:{k}": v for k, v in assignment.items()})
        extensions.update({f"{CODE_PREFIX}{k}": code for k, code in translated(assignment)})
        if next(camunda_children(node, "formData"), None) is not None:
            # The form itself is stored with the definition; the spec only needs to know it has one.
            extensions["camunda:formData"] = True
        binding = binding_of(node, self.decisions) if node is self.node else None
        if binding is not None:
            extensions["engine:kind"] = binding.kind
            if binding.kind == KIND_EXTERNAL:
                extensions["engine:topic"] = binding.name
        return extensions

    @property
    def decisions(self) -> Container[str]:
        """The DMN decisions of the deployment (SpiffWorkflow's parser reads the DMN files first)."""
        decisions: Container[str] = self.process_parser.parser.dmn_parsers
        return decisions

    def handles_multiple_outgoing(self) -> bool:
        # Several flows out of an activity: all are taken (an implicit parallel split).
        return True

    def parse_condition(self, sequence_flow: Any) -> str | None:
        expression = sequence_flow.find(f"{{{BPMN_NS}}}conditionExpression")
        if expression is None or not (expression.text or "").strip():
            # Camunda takes a flow without a condition as true; only the default flow is special.
            return "True" if isinstance(self, ConditionalGatewayParser) else None
        return condition_code(expression.text or "", expression.get("language"))

    def create_task(self) -> Any:
        binding = binding_of(self.node, self.decisions)
        task = self._bound_task(binding) if binding is not None else super().create_task()  # type: ignore[misc]
        mapping = read_mapping(self.node, self.filename or "")
        if hasattr(task, "prescript"):
            task.prescript = combine(mapping.prescript, task.prescript)
            task.postscript = combine(task.postscript, mapping.postscript)
            item = element_variable(self.node)
            if item:
                # Camunda's element variable is local to one instance; SpiffWorkflow would merge it
                # back and refuse the next instance of a sequential loop ("already exists").
                task.postscript = combine(task.postscript, f"del {item}")
        return task

    def _bound_task(self, binding: Binding) -> EngineServiceTask:
        extensions = SpiffTaskParser._parse_extensions(self.node)
        params: dict[str, Any] = {}
        result_variable = bound_result_variable(self.node)
        retries = None
        operator = extensions.get("serviceTaskOperator")
        if operator is not None:
            params = operator["parameters"]
            result_variable = operator["resultVariable"]
            retries = operator.get("retries")
        connector, outputs = connector_parameters(self.node, self.filename or "")
        params.update({name: {"type": "any", "value": code} for name, code in connector.items()})
        params.update({key: {"type": "str", "value": repr(value)} for key, value in binding.parameters})
        return EngineServiceTask(
            self.spec,
            self.bpmn_id,
            operation_name=binding.name,
            operation_params=params,
            result_variable=result_variable,
            retries=retries,
            prescript=extensions.get("preScript"),
            postscript=combine(extensions.get("postScript"), outputs.postscript),
            **self.bpmn_attributes,  # type: ignore[attr-defined]
        )


def element_variable(node: Any) -> str | None:
    """The variable Camunda's multi-instance gives each instance (``camunda:elementVariable``)."""
    loop = node.find(f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics")
    if loop is None:
        return None
    name = camunda_attributes(loop).get("elementVariable")
    zeebe = loop.find(f"{{{BPMN_NS}}}extensionElements/{{{ZEEBE_NS}}}loopCharacteristics")
    if not name and zeebe is not None:
        name = zeebe.get("inputElement")
    return name if name and name.isidentifier() else None


class EngineTaskParser(CamundaAware, SpiffTaskParser):
    pass


class EngineUserTaskParser(CamundaAware, UserTaskParser):
    pass


class EngineScriptTaskParser(CamundaAware, ScriptTaskParser):
    pass


class EngineSubWorkflowParser(CamundaAware, SubWorkflowParser):
    pass


class EngineCallActivityParser(CamundaAware, CallActivityParser):
    pass


class EngineServiceTaskParser(EngineTaskParser):
    """Service tasks always bind (``bindings`` names the task's own id when nothing else)."""


class CamundaMessagePayload:
    """A thrown message's payload as Camunda Modeler users write it: ``camunda:expression`` on the
    message event definition, as SpiffWorkflow's own Camunda parser reads it; used when no
    ``spiffworkflow:messagePayload`` is given. EL (``${…}``) is translated like other values."""

    def parse_message_event(self, message_event: Any) -> Any:
        definition = super().parse_message_event(message_event)  # type: ignore[misc]
        expression = message_event.get(f"{{{CAMUNDA_NS}}}expression")
        if expression and getattr(definition, "expression", None) is None:
            definition.expression = expression_code(expression)
        return definition


class EngineThrowEventParser(CamundaMessagePayload, SpiffIntermediateThrowEventParser):
    pass


class EngineEndEventParser(CamundaMessagePayload, SpiffEndEventParser):
    pass


class EngineSendTaskParser(CamundaAware, CamundaMessagePayload, SpiffSendTaskParser):
    """A send task throws its message, unless it names an implementation (then it is a service task)."""


class EngineReceiveTaskParser(CamundaAware, SpiffReceiveTaskParser):
    pass


class EngineBusinessRuleTaskParser(CamundaAware, BusinessRuleTaskParser):
    """Reads the decision from SpiffWorkflow's ``calledDecisionId`` or Camunda's ``decisionRef``."""

    @staticmethod
    def get_decision_ref(node: Any) -> str | None:
        return decision_ref(node)


class EngineGatewayParser(CamundaAware, ConditionalGatewayParser):
    """Conditions are tried in the order the flows are written, as Camunda does.

    SpiffWorkflow orders a node's outgoing flows by where their targets are drawn; for a
    gateway that decides, the first flow whose condition holds wins, so the drawing would
    decide. Camunda (and BPMN's XML order) take the flows in the order of the file.
    """

    def get_position(self, node: Any = None) -> dict[str, float]:
        if node is None or node is self.node:
            position: dict[str, float] = super().get_position(node)
            return position
        flows = self.process_parser.get_outgoing_sequence_flows(self.bpmn_id)
        targets = [f.get("targetRef") for f in flows]
        written = targets.index(node.get("id")) if node.get("id") in targets else len(targets)
        return {"x": 0.0, "y": float(written)}


class ConditionalEvents:
    """Events: Camunda attributes read as for tasks; conditions translated like a gateway's."""

    node: Any

    def parse_extensions(self, node: Any = None) -> dict[str, Any]:
        node = self.node if node is None else node
        extensions: dict[str, Any] = super().parse_extensions(node)  # type: ignore[misc]
        extensions.update({f"camunda:{k}": v for k, v in camunda_attributes(node).items()})
        return extensions

    def parse_timer_event(self, event: Any) -> Any:
        if self.node.get(CONTINUATION) is not None:  # a commit point the engine placed
            name = self.node.get("name") or self.node.get("id")
            return ContinuationTimerEventDefinition(name, repr("PT0S"), description="Commit point")
        return super().parse_timer_event(event)  # type: ignore[misc]

    def parse_conditional_event(self, event: Any) -> ConditionalEventDefinition:
        definition: ConditionalEventDefinition = super().parse_conditional_event(event)  # type: ignore[misc]
        condition = event.find(f"{{{BPMN_NS}}}condition")
        language = condition.get("language") if condition is not None else None
        code = condition_code(definition.expression or "", language)
        # Not met while a variable it names is missing, as Camunda evaluates these conditions.
        definition.expression = f"el_unless_unknown(lambda: {code})"
        return definition


class EngineStartEvents(ConditionalEvents, EngineStartEventParser):
    pass


class EngineCatchEvents(ConditionalEvents, EngineIntermediateCatchEventParser):
    pass


class EngineBoundaryEvents(ConditionalEvents, EngineBoundaryEventParser):
    pass


class EngineParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("task"): (EngineTaskParser, NoneTask),
        full_tag("manualTask"): (EngineTaskParser, ManualTask),
        full_tag("userTask"): (EngineUserTaskParser, UserTask),
        full_tag("scriptTask"): (EngineScriptTaskParser, ScriptTask),
        full_tag("serviceTask"): (EngineServiceTaskParser, EngineServiceTask),
        full_tag("sendTask"): (EngineSendTaskParser, SendTask),
        full_tag("receiveTask"): (EngineReceiveTaskParser, ReceiveTask),
        full_tag("subProcess"): (EngineSubWorkflowParser, SubWorkflowTask),
        full_tag("callActivity"): (EngineCallActivityParser, CallActivity),
        full_tag("businessRuleTask"): (
            EngineBusinessRuleTaskParser,
            SpiffBpmnParser.OVERRIDE_PARSER_CLASSES[full_tag("businessRuleTask")][1],
        ),
        full_tag("exclusiveGateway"): (EngineGatewayParser, ExclusiveGateway),
        full_tag("inclusiveGateway"): (EngineGatewayParser, InclusiveGateway),
        full_tag("startEvent"): (EngineStartEvents, StartEvent),
        full_tag("intermediateCatchEvent"): (EngineCatchEvents, IntermediateCatchEvent),
        full_tag("boundaryEvent"): (EngineBoundaryEvents, BoundaryEvent),
        full_tag("intermediateThrowEvent"): (EngineThrowEventParser, IntermediateThrowEvent),
        full_tag("endEvent"): (EngineEndEventParser, EndEvent),
    }


def initiator_variable(spec: Any) -> str | None:
    """The variable a start event's ``camunda:initiator`` names, to hold who started the case."""
    for task_spec in spec.task_specs.values():
        if isinstance(task_spec, StartEvent):
            name = (getattr(task_spec, "extensions", None) or {}).get("camunda:initiator")
            if name:
                return str(name)
    return None
