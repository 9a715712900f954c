"""The process files designers own: processes/*.bpmn, processes/*.dmn and forms/*.form.

Checks that every file is valid BPMN 2.0 / DMN, that SpiffWorkflow's Camunda parser reads
it, that the conventions of this engine hold (lanes = roles, forms exist, DI complete,
gateways decidable, handlers documented), that the decision tables decide what the
policy says, that bpmn-io's moddle (what Camunda Modeler uses) reads every file without
a warning, and that the main paths of each process run through SpiffWorkflow with stub
handlers.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from lxml import etree
from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.defaults import ServiceTask
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = ROOT / "processes"
FORMS = ROOT / "forms"
DOCS = ROOT / "docs" / "processes.md"
MODDLE = ROOT / "tools" / "bpmn-moddle"

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "camunda": "http://camunda.org/schema/1.0/bpmn",
}
CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"
ROLES = {
    "agent",
    "complaint_handler",
    "dispatcher",
    "technician",
    "service_manager",
    "director",
    "finance",
    "account_manager",
}
PROCESS_IDS = ["complaint", "repair", "compensation", "service_agreement", "callback"]
BPMN_FILES = [PROCESSES / f"{pid}.bpmn" for pid in PROCESS_IDS]
DMN_FILES = sorted(PROCESSES.glob("*.dmn"))
FLOW_NODES = (
    "startEvent",
    "endEvent",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "boundaryEvent",
    "exclusiveGateway",
    "parallelGateway",
    "eventBasedGateway",
    "inclusiveGateway",
    "userTask",
    "serviceTask",
    "businessRuleTask",
    "callActivity",
    "scriptTask",
    "sendTask",
    "receiveTask",
    "manualTask",
    "task",
    "subProcess",
)
FORM_TYPES = {
    "textfield",
    "textarea",
    "number",
    "select",
    "radio",
    "checkbox",
    "checklist",
    "datetime",
    "text",
    "group",
}


def tree(path: Path) -> etree._ElementTree:
    return etree.parse(str(path))


def flow_nodes(doc: etree._ElementTree) -> list[etree._Element]:
    return [el for tag in FLOW_NODES for el in doc.iterfind(f".//bpmn:process//bpmn:{tag}", NS)]


def ids(files: list[Path]) -> list[str]:
    return [f.name for f in files]


@pytest.fixture(scope="module")
def parser() -> CamundaParser:
    p = CamundaParser(validator=BpmnValidator())
    p.add_dmn_files([str(f) for f in DMN_FILES])
    p.add_bpmn_files([str(f) for f in BPMN_FILES])
    return p


# --------------------------------------------------------------------------- files and schema
def test_all_expected_files_exist() -> None:
    for path in BPMN_FILES:
        assert path.is_file(), path
    assert {f.stem for f in DMN_FILES} >= {"compensation_approval", "complaint_priority", "repair_coverage"}


@pytest.mark.parametrize("path", BPMN_FILES, ids=ids(BPMN_FILES))
def test_bpmn_is_xsd_valid(path: Path) -> None:
    BpmnValidator().validate(tree(path))


@pytest.mark.parametrize("path", BPMN_FILES, ids=ids(BPMN_FILES))
def test_camunda_modeler_conventions(path: Path) -> None:
    root = tree(path).getroot()
    assert root.get("exporter") == "Camunda Modeler"
    assert root.nsmap.get("camunda") == NS["camunda"]
    process = root.find("bpmn:process", NS)
    assert process.get("id") == path.stem
    assert process.get("isExecutable") == "true"
    participant = root.find("bpmn:collaboration/bpmn:participant[@processRef]", NS)
    assert participant is not None and participant.get("processRef") == path.stem


@pytest.mark.parametrize("pid", PROCESS_IDS)
def test_camunda_parser_builds_spec(parser: CamundaParser, pid: str) -> None:
    spec = parser.get_spec(pid)
    assert spec.name == pid
    parser.get_subprocess_specs(pid)  # called processes resolve too


@pytest.mark.parametrize("path", DMN_FILES, ids=ids(DMN_FILES))
def test_dmn_loads(path: Path) -> None:
    p = CamundaParser(validator=BpmnValidator())  # validates against the DMN 1.3 XSD as well
    p.add_dmn_files([str(path)])
    assert path.stem in p.dmn_parsers
    p.get_engine(path.stem, None)


# --------------------------------------------------------------------------- engine conventions
@pytest.mark.parametrize("path", BPMN_FILES, ids=ids(BPMN_FILES))
def test_lanes_are_roles_and_every_node_has_a_lane(path: Path) -> None:
    doc = tree(path)
    lane_of: dict[str, str] = {}
    for lane in doc.iterfind(".//bpmn:lane", NS):
        lane_id = lane.get("id")
        assert lane_id.startswith("Lane_") and lane_id[5:] in ROLES, lane_id
        assert lane.get("name"), lane_id
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            assert ref.text not in lane_of, f"{ref.text} is in two lanes"
            lane_of[ref.text] = lane_id[5:]
    for node in flow_nodes(doc):
        assert node.get("id") in lane_of, f"{node.get('id')} has no lane"
    for task in doc.iterfind(".//bpmn:userTask", NS):
        assert task.get(f"{CAMUNDA}candidateGroups") == lane_of[task.get("id")], task.get("id")


@pytest.mark.parametrize("path", BPMN_FILES, ids=ids(BPMN_FILES))
def test_user_tasks_have_valid_forms(path: Path) -> None:
    doc = tree(path)
    tasks = list(doc.iterfind(".//bpmn:userTask", NS))
    assert tasks
    for task in tasks:
        form_id = task.get(f"{CAMUNDA}formRef")
        assert form_id, f"{task.get('id')} has no camunda:formRef"
        assert task.get(f"{CAMUNDA}formRefBinding") == "latest"
        form_file = FORMS / f"{form_id}.form"
        assert form_file.is_file(), f"{task.get('id')}: missing {form_file}"
        form = json.loads(form_file.read_text(encoding="utf-8"))
        assert form["id"] == form_id
        assert form["type"] == "default" and form["schemaVersion"] == 16
        keys = _check_components(form["components"], form_id)
        assert keys, f"{form_id} sets no variable"


def _check_components(components: list[dict[str, Any]], form_id: str) -> list[str]:
    keys = []
    seen_ids: set[str] = set()

    def walk(items: list[dict[str, Any]]) -> None:
        for comp in items:
            assert comp["type"] in FORM_TYPES, (form_id, comp)
            assert comp["id"] not in seen_ids, (form_id, comp["id"])
            seen_ids.add(comp["id"])
            if comp["type"] == "group":
                walk(comp["components"])
            elif comp["type"] != "text":
                assert re.fullmatch(r"[a-z][a-z0-9_]*", comp["key"]), (form_id, comp["key"])
                keys.append(comp["key"])
                if comp["type"] in ("select", "radio", "checklist"):
                    assert comp.get("values") or comp.get("valuesKey"), (form_id, comp["key"])

    walk(components)
    return keys


def test_every_form_is_used() -> None:
    used = {t.get(f"{CAMUNDA}formRef") for p in BPMN_FILES for t in tree(p).iterfind(".//bpmn:userTask", NS)}
    assert {f.stem for f in FORMS.glob("*.form")} == used


@pytest.mark.parametrize("path", BPMN_FILES, ids=ids(BPMN_FILES))
def test_every_element_is_documented(path: Path) -> None:
    doc = tree(path)
    elements = flow_nodes(doc) + list(doc.iterfind(".//bpmn:sequenceFlow", NS))
    elements += list(doc.iterfind(".//bpmn:lane", NS)) + list(doc.iterfind(".//bpmn:participant", NS))
    elements += list(doc.iterfind("bpmn:process", NS)) + list(doc.iterfind(".//bpmn:messageFlow", NS))
    for el in elements:
        text = el.findtext("bpmn:documentation", namespaces=NS)
        assert text and text.strip(), f"{el.get('id')} has no documentation"


@pytest.mark.parametrize("path", BPMN_FILES, ids=ids(BPMN_FILES))
def test_diagram_interchange_is_complete_and_shapes_do_not_overlap(path: Path) -> None:
    doc = tree(path)
    shapes = {s.get("bpmnElement"): s.find("dc:Bounds", NS) for s in doc.iterfind(".//bpmndi:BPMNShape", NS)}
    edges = {e.get("bpmnElement"): e for e in doc.iterfind(".//bpmndi:BPMNEdge", NS)}
    wanted = [n.get("id") for n in flow_nodes(doc)]
    wanted += [lane.get("id") for lane in doc.iterfind(".//bpmn:lane", NS)]
    wanted += [p.get("id") for p in doc.iterfind(".//bpmn:participant", NS)]
    for el_id in wanted:
        assert el_id in shapes, f"no BPMNShape for {el_id}"
    flows = list(doc.iterfind(".//bpmn:sequenceFlow", NS)) + list(doc.iterfind(".//bpmn:messageFlow", NS))
    for flow in flows:
        edge = edges.get(flow.get("id"))
        assert edge is not None, f"no BPMNEdge for {flow.get('id')}"
        assert len(edge.findall("di:waypoint", NS)) >= 2
    boxes = []
    for node in flow_nodes(doc):
        if node.tag.endswith("boundaryEvent"):
            continue
        b = shapes[node.get("id")]
        boxes.append((node.get("id"), *(float(b.get(k)) for k in ("x", "y", "width", "height"))))
    for i, (a, ax, ay, aw, ah) in enumerate(boxes):
        for b_id, bx, by, bw, bh in boxes[i + 1 :]:
            overlap = ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah
            assert not overlap, f"{a} overlaps {b_id}"


@pytest.mark.parametrize("path", BPMN_FILES, ids=ids(BPMN_FILES))
def test_exclusive_gateways_are_decidable(path: Path) -> None:
    doc = tree(path)
    for gw in doc.iterfind(".//bpmn:exclusiveGateway", NS):
        outgoing = doc.findall(f".//bpmn:sequenceFlow[@sourceRef='{gw.get('id')}']", NS)
        if len(outgoing) < 2:
            continue
        for flow in outgoing:
            has_condition = flow.find("bpmn:conditionExpression", NS) is not None
            assert has_condition or flow.get("id") == gw.get("default"), (
                f"{gw.get('id')}: {flow.get('id')} has neither a condition nor is the default"
            )


@pytest.mark.parametrize("path", BPMN_FILES, ids=ids(BPMN_FILES))
def test_service_tasks_name_documented_handlers(path: Path) -> None:
    docs = DOCS.read_text(encoding="utf-8")
    for task in tree(path).iterfind(".//bpmn:serviceTask", NS):
        expr = task.get(f"{CAMUNDA}delegateExpression")
        m = re.fullmatch(r"\$\{([a-z_][a-z0-9_]*)\}", expr or "")
        assert m, f"{task.get('id')}: delegateExpression {expr!r}"
        assert f"### `{m.group(1)}`" in docs, f"handler {m.group(1)} is not documented in docs/processes.md"


@pytest.mark.parametrize("path", BPMN_FILES, ids=ids(BPMN_FILES))
def test_error_boundaries_reference_errors_with_codes(path: Path) -> None:
    doc = tree(path)
    errors = {e.get("id"): e.get("errorCode") for e in doc.iterfind("bpmn:error", NS)}
    for ed in doc.iterfind(".//bpmn:boundaryEvent/bpmn:errorEventDefinition", NS):
        assert errors.get(ed.get("errorRef")), ed.getparent().get("id")


def test_new_complaint_message_connects_callback_and_complaint() -> None:
    def names(path: Path) -> set[str]:
        return {m.get("name") for m in tree(path).iterfind("bpmn:message", NS)}

    assert "new_complaint" in names(PROCESSES / "callback.bpmn") & names(PROCESSES / "complaint.bpmn")
    complaint = tree(PROCESSES / "complaint.bpmn")
    starts = complaint.findall(".//bpmn:process/bpmn:startEvent", NS)
    assert any(s.find("bpmn:messageEventDefinition", NS) is None for s in starts)
    assert any(s.find("bpmn:messageEventDefinition", NS) is not None for s in starts)


# --------------------------------------------------------------------------- decision tables
def decide(parser: CamundaParser, decision: str, **data: Any) -> dict[str, Any]:
    engine = parser.get_engine(decision, None)
    task = SimpleNamespace(data=data, workflow=SimpleNamespace(script_engine=PythonScriptEngine()))
    return dict(engine.result(task))


@pytest.mark.parametrize(
    ("severity", "tier", "priority", "escalation"),
    [
        ("critical", "C", "urgent", "PT4H"),
        ("high", "A", "urgent", "PT4H"),
        ("high", "B", "high", "PT8H"),
        ("medium", "A", "high", "PT8H"),
        ("medium", "C", "normal", "PT24H"),
        ("low", "A", "normal", "PT24H"),
        ("low", "B", "low", "PT48H"),
    ],
)
def test_complaint_priority(
    parser: CamundaParser, severity: str, tier: str, priority: str, escalation: str
) -> None:
    result = decide(parser, "complaint_priority", severity=severity, customer_tier=tier)
    assert result == {"priority": priority, "escalation_after": escalation}


@pytest.mark.parametrize(
    ("amount", "route"),
    [
        (1, "manager"),
        (4999.99, "manager"),
        (5000, "manager"),
        (5000.01, "manager_and_director"),
        (120000, "manager_and_director"),
    ],
)
def test_compensation_approval(parser: CamundaParser, amount: float, route: str) -> None:
    result = decide(parser, "compensation_approval", compensation_amount=amount)
    assert result == {"approval_route": route, "manager_limit": 5000}


@pytest.mark.parametrize(
    ("warranty", "agreement", "coverage", "pays"),
    [
        ("in_warranty", "none", "warranty", "nothing"),
        ("in_warranty", "basic", "warranty", "nothing"),
        ("out_of_warranty", "premium", "agreement", "nothing"),
        ("out_of_warranty", "standard", "agreement", "nothing"),
        ("out_of_warranty", "basic", "partial_agreement", "parts"),
        ("out_of_warranty", "none", "none", "parts_and_labour"),
    ],
)
def test_repair_coverage(
    parser: CamundaParser, warranty: str, agreement: str, coverage: str, pays: str
) -> None:
    result = decide(parser, "repair_coverage", warranty_status=warranty, agreement_level=agreement)
    assert result == {"coverage": coverage, "customer_pays": pays}


# --------------------------------------------------------------------------- second reader
def test_bpmn_moddle_reads_every_file_without_warnings() -> None:
    node = shutil.which("node")
    missing = None
    if node is None:
        missing = "node is not installed: cannot run the bpmn-moddle check"
    elif not (MODDLE / "node_modules" / "bpmn-moddle").is_dir():
        missing = "tools/bpmn-moddle/node_modules is absent: run `npm ci --prefix tools/bpmn-moddle`"
    if missing is not None:
        # CI has node and `make test` runs npm ci first: there the second reader must run.
        if IN_CI:
            pytest.fail(f"{missing}; the second reader is required in CI")
        pytest.skip(missing)
    assert node is not None
    files = [str(f) for f in BPMN_FILES + DMN_FILES]
    run = subprocess.run(
        [node, str(MODDLE / "check.mjs"), *files], capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr


# --------------------------------------------------------------------------- walking the paths
class StubServiceTask(ServiceTask):
    """A service task whose handler is a stub from the running test (see Walk)."""

    def _execute(self, task: Any) -> bool:
        stub = task.workflow.script_engine.stubs.get(self.bpmn_id)
        if callable(stub):
            stub = stub(task.data)
        task.data.update(stub or {})
        task.workflow.script_engine.handled.append(self.bpmn_id)
        return True


class WalkParser(CamundaParser):
    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (TaskParser, StubServiceTask),
    }


class WalkScriptEngine(PythonScriptEngine):
    """Evaluates what our engine evaluates: ``${var}`` and ISO literals as modelers write them.

    Literal timer durations become zero so that waits pass at once in the test."""

    def __init__(self, stubs: dict[str, Any]) -> None:
        super().__init__()
        self.stubs = stubs
        self.handled: list[str] = []

    def evaluate(self, task: Any, expression: str, external_context: Any = None) -> Any:
        text = expression.strip()
        m = re.fullmatch(r"\$\{(.+)\}", text)
        if m:
            text = m.group(1)
        elif re.fullmatch(r"P[0-9YMWDTHS.]+", text):
            return "PT0S"
        return super().evaluate(task, text, external_context)


class Walk:
    def __init__(self, pid: str, stubs: dict[str, Any], **data: Any) -> None:
        p = WalkParser()
        p.add_dmn_files([str(f) for f in DMN_FILES])
        p.add_bpmn_files([str(f) for f in BPMN_FILES])
        self.engine = WalkScriptEngine(stubs)
        self.wf = BpmnWorkflow(p.get_spec(pid), p.get_subprocess_specs(pid), script_engine=self.engine)
        self.wf.get_next_task(state=TaskState.READY).data.update(data)
        self.step()

    def step(self) -> None:
        for _ in range(3):
            self.wf.do_engine_steps()
            self.wf.refresh_timers()
        self.wf.do_engine_steps()

    def ready(self) -> list[str]:
        return sorted(t.task_spec.bpmn_id for t in self.wf.get_tasks(state=TaskState.READY, manual=True))

    def complete(self, task_id: str, **values: Any) -> None:
        tasks = [
            t for t in self.wf.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.bpmn_id == task_id
        ]
        assert tasks, f"{task_id} is not ready; ready: {self.ready()}"
        tasks[0].data.update(values)
        tasks[0].run()
        self.step()

    def message(self, name: str, **payload: Any) -> None:
        """Deliver a message the way our engine does: the payload's keys become variables."""
        before = {t.id for t in self.wf.get_tasks(state=TaskState.READY)}
        event = BpmnEvent(MessageEventDefinition(name), {"payload": payload, "result_var": f"{name}_payload"})
        self.wf.send_event(event)
        for task in self.wf.get_tasks(state=TaskState.READY):
            if task.id not in before:
                task.data.update(payload)
        self.step()

    @property
    def data(self) -> dict[str, Any]:
        return self.wf.last_task.data


CUSTOMER = {"customer_name": "Acme", "customer_tier": "A", "customer_phone": "1", "customer_email": "a@b"}


def test_walk_compensation_rejected_by_director() -> None:
    w = Walk(
        "compensation",
        {
            "Task_register": {"compensation_no": "C-1", "compensation_status": "pending"},
            "Task_notify_rejected": {"compensation_status": "rejected"},
        },
    )
    w.complete(
        "Task_apply",
        case_type="none",
        customer_id="c1",
        compensation_amount=8000,
        compensation_reason="broken twice",
    )
    w.complete("Task_manager_approval", manager_decision="approve")
    w.complete("Task_director_approval", director_decision="reject", director_comment="too much")
    assert w.wf.is_completed()
    assert w.data["compensation_status"] == "rejected"
    assert "Task_post_to_finance" not in w.engine.handled


def test_walk_compensation_approved_by_manager_alone() -> None:
    w = Walk("compensation", {})
    w.complete(
        "Task_apply",
        case_type="none",
        customer_id="c1",
        compensation_amount=100,
        compensation_reason="late visit",
    )
    w.complete("Task_manager_approval", manager_decision="approve")
    assert w.wf.is_completed()
    assert w.engine.handled[-2:] == ["Task_notify_customer", "Task_post_to_finance"]


def _callback_result(unreachable_times: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def handler(data: dict[str, Any]) -> dict[str, Any]:
        attempts = data["callback_attempts"] + 1
        if data["customer_reached"] == "no":
            return {"callback_attempts": attempts, "callback_outcome": "unreachable"}
        unhappy = data["problem_solved"] == "no" or data["satisfaction"] <= 2
        out = {"callback_attempts": attempts, "callback_outcome": "dissatisfied" if unhappy else "satisfied"}
        if unhappy:
            out["new_complaint_request"] = {"customer_id": data.get("customer_id")}
        return out

    return handler


CALLBACK_STUBS = {
    "Task_prepare_callback": {"callback_attempts": 0, "callback_max_attempts": 3},
    "Task_record_result": _callback_result(0),
}


def test_walk_callback_gives_up_after_three_attempts() -> None:
    w = Walk("callback", CALLBACK_STUBS, case_type="repair", case_id="R-1", customer_id="c1")
    for _ in range(3):
        w.complete("Task_call_customer", customer_reached="no")
    assert w.wf.is_completed()
    assert w.engine.handled.count("Task_record_result") == 3
    assert w.engine.handled[-1] == "Task_record_unreachable"


def test_walk_callback_dissatisfied_throws_new_complaint() -> None:
    w = Walk("callback", CALLBACK_STUBS, case_type="repair", case_id="R-1", customer_id="c1")
    w.complete("Task_call_customer", customer_reached="no")
    w.complete("Task_call_customer", customer_reached="yes", problem_solved="no", satisfaction=2)
    assert w.wf.is_completed()
    events = w.wf.get_events()
    assert [e.event_definition.name for e in events] == ["new_complaint"]
    assert events[0].payload["payload"] == {"customer_id": "c1"}


def test_walk_complaint_with_compensation_and_callback() -> None:
    stubs = {
        "Task_lookup_customer": CUSTOMER,
        "Task_register_complaint": {"complaint_no": "K-1", "case_type": "complaint", "case_id": "K-1"},
        "Task_close_complaint": {"complaint_status": "closed"},
        **CALLBACK_STUBS,
    }
    w = Walk("complaint", stubs)
    w.complete(
        "Task_record_complaint",
        customer_id="c1",
        channel="phone",
        category="billing",
        description="charged twice for one repair",
        severity="high",
    )
    assert w.ready() == ["Task_verify_and_resolve"]
    w.complete(
        "Task_verify_and_resolve",
        complaint_valid="founded",
        verification_notes="checked",
        resolution="refund",
        resolved_first_contact=True,
        compensation_due=True,
        compensation_amount=300,
        compensation_reason="double charge",
    )
    assert w.ready() == ["Task_apply"]  # the compensation process runs for the case
    w.complete("Task_apply")
    w.complete("Task_manager_approval", manager_decision="approve")
    w.complete("Task_call_customer", customer_reached="yes", problem_solved="yes", satisfaction=5)
    assert w.wf.is_completed()
    assert w.data["priority"] == "urgent"
    assert w.data["approval_route"] == "manager"
    assert w.engine.handled.index("Task_notify_outcome") > w.engine.handled.index("Task_post_to_finance")


def test_walk_repair_with_rework_and_reopening() -> None:
    stubs = {
        "Task_lookup_customer": CUSTOMER,
        "Task_create_order": {"order_no": "O-1", "case_type": "repair", "case_id": "O-1"},
        "Task_check_coverage": {"warranty_status": "out_of_warranty", "agreement_level": "basic"},
        "Task_propose_technician": {"technician_id": "t1", "technician_options": []},
        **CALLBACK_STUBS,
    }
    w = Walk("repair", stubs)
    w.complete(
        "Task_record_request",
        customer_id="c1",
        product="X1",
        serial_number="S1",
        fault_description="does not start",
        service_address="here",
        contact_name="A",
        contact_phone="123456",
    )
    w.complete("Task_confirm_request", request_decision="confirm")
    assert w.data["customer_pays"] == "parts"
    w.complete("Task_dispatch", technician_id="t2")
    work = {"fault_symptom": "dead", "solution": "new board", "parts_used": ["P1"], "labour_hours": 2}
    w.complete("Task_complete_order", **work)
    w.complete(
        "Task_review_order", review_decision="rework", review_comment="photo missing", compensation_due=False
    )
    w.complete("Task_complete_order", **work)
    w.complete(
        "Task_review_order",
        review_decision="approve",
        compensation_due=True,
        compensation_amount=50,
        compensation_reason="second visit",
    )
    w.complete("Task_call_customer", customer_reached="yes", problem_solved="yes", satisfaction=4)
    w.complete("Task_record_acceptance", customer_accepted="no", acceptance_feedback="noise")
    assert w.ready() == ["Task_complete_order"]
    w.complete("Task_complete_order", **work)
    w.complete(
        "Task_review_order",
        review_decision="approve",
        compensation_due=True,
        compensation_amount=50,
        compensation_reason="second visit",
    )
    w.complete("Task_call_customer", customer_reached="yes", problem_solved="yes", satisfaction=5)
    w.message("repair_acceptance", customer_accepted="yes")  # the customer answers by link
    assert w.ready() == ["Task_settle"]
    w.complete("Task_settle", settlement_status="invoiced", invoice_no="I-1")
    assert w.ready() == ["Task_apply"]  # compensation due after the review
    w.complete("Task_apply")
    w.complete("Task_manager_approval", manager_decision="reject", manager_comment="no grounds")
    assert w.wf.is_completed()
    assert w.engine.handled.count("Task_issue_parts") == 3
    assert w.engine.handled.count("Task_reopen_order") == 1
    assert w.engine.handled[-1] == "Task_close_order"


def test_walk_repair_request_rejected_as_duplicate() -> None:
    w = Walk("repair", {"Task_lookup_customer": CUSTOMER})
    w.complete(
        "Task_record_request",
        customer_id="c1",
        product="X1",
        serial_number="S1",
        fault_description="does not start",
        service_address="here",
        contact_name="A",
        contact_phone="123456",
    )
    w.complete(
        "Task_confirm_request",
        request_decision="duplicate",
        duplicate_of="R-0",
        rejection_reason="already reported",
    )
    assert w.wf.is_completed()
    assert w.engine.handled[-1] == "Task_notify_request_rejected"


def test_walk_service_agreement_amended_then_expired() -> None:
    past = "2020-01-01T00:00:00+00:00"
    stubs = {
        "Task_lookup_customer": CUSTOMER,
        "Task_register_draft": {
            "agreement_no": "A-1",
            "agreement_version": 1,
            "activation_at": past,
            "renewal_reminder_at": "2999-01-01T00:00:00+00:00",
            "expiry_at": "2999-06-01T00:00:00+00:00",
        },
        "Task_record_version": lambda d: {"agreement_version": d["agreement_version"] + 1},
    }
    w = Walk("service_agreement", stubs)
    w.complete("Task_draft", customer_id="c1")
    w.complete("Task_approve", agreement_decision="revise", approval_comment="fee too low")
    w.complete("Task_draft", customer_id="c1")
    w.complete("Task_approve", agreement_decision="approve")
    w.complete("Task_sign", signing_outcome="signed")
    assert "Task_activate" in w.engine.handled
    assert w.ready() == []
    w.message("agreement_amendment_requested")
    w.complete("Task_draft_amendment", amendment_summary="premium")
    w.complete("Task_approve_amendment", amendment_decision="approve")
    w.message("agreement_termination_requested")
    w.complete("Task_record_termination", termination_reason="moving")
    assert w.wf.is_completed()
    assert w.engine.handled[-1] == "Task_terminate"
    assert "Task_send_reminder" not in w.engine.handled  # the terminate end event cancelled it
