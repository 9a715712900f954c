"""(Re)generate the diagram-interchange layout (BPMN DI) of a BPMN file.

Usage: python tools/layout_bpmn.py processes/complaint.bpmn [more.bpmn ...]

Process designers normally lay diagrams out by hand in Camunda Modeler.  This script
exists so that a diagram authored or restructured as XML still opens as a readable
drawing: it throws away any existing <bpmndi:BPMNDiagram> and writes a new one.

Layout (a simple layered layout, left to right):
* The first participant's process is drawn as a pool with one horizontal band per lane,
  in laneSet order.  Collapsed participants (external parties such as the customer) are
  drawn as thin pools below it.
* Back edges (loops) are found by a depth-first search from the start events; without
  them the flow graph is acyclic and every node gets the column of its longest path
  from a start event.  Boundary events sit on the lower border of their host and their
  targets are placed in later columns.
* Nodes in the same lane and column are stacked in rows, so shapes never overlap.
* Sequence flows are orthogonal polylines; loops run back under the shapes.

The semantic model (everything outside BPMNDiagram) is not changed.
"""
from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
NS = {"bpmn": BPMN, "bpmndi": BPMNDI, "dc": DC, "di": DI}

EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
GATEWAYS = {"exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway",
            "complexGateway"}
TASKS = {"task", "userTask", "serviceTask", "scriptTask", "businessRuleTask", "sendTask",
         "receiveTask", "manualTask", "callActivity", "subProcess"}

POOL_X, POOL_Y = 150, 60
LANE_HEADER = 30
COL_W = 150
ROW_H = 120
LANE_PAD = 20
LEFT_MARGIN = 60
EXTERNAL_H = 60
EXTERNAL_GAP = 60


def local(tag: str) -> str:
    return tag.split("}", 1)[1]


def size(kind: str) -> tuple[int, int]:
    if kind in EVENTS:
        return 36, 36
    if kind in GATEWAYS:
        return 50, 50
    return 100, 80


class Layout:
    def __init__(self, root: etree._Element) -> None:
        self.root = root
        collab = root.find("bpmn:collaboration", NS)
        if collab is None:
            raise SystemExit("no bpmn:collaboration: the layout needs a pool")
        self.collab = collab
        participants = collab.findall("bpmn:participant", NS)
        self.main = next(p for p in participants if p.get("processRef"))
        self.external = [p for p in participants if not p.get("processRef")]
        self.process = root.find(f"bpmn:process[@id='{self.main.get('processRef')}']", NS)
        self.lanes = self.process.findall("bpmn:laneSet/bpmn:lane", NS)
        self.lane_of = {ref.text: lane.get("id") for lane in self.lanes
                        for ref in lane.findall("bpmn:flowNodeRef", NS)}
        self.nodes: dict[str, etree._Element] = {}
        for el in self.process:
            if not isinstance(el.tag, str):
                continue
            kind = local(el.tag)
            if kind in EVENTS | GATEWAYS | TASKS:
                self.nodes[el.get("id")] = el
        self.kind = {nid: local(el.tag) for nid, el in self.nodes.items()}
        self.flows = [(f.get("id"), f.get("sourceRef"), f.get("targetRef"))
                      for f in self.process.findall("bpmn:sequenceFlow", NS)]
        self.boundaries: dict[str, list[str]] = defaultdict(list)
        for nid, el in self.nodes.items():
            if self.kind[nid] == "boundaryEvent":
                self.boundaries[el.get("attachedToRef")].append(nid)

    # ---- graph
    def successors(self, nid: str) -> list[tuple[str, str]]:
        out = [(fid, t) for fid, s, t in self.flows if s == nid]
        # boundary events behave like extra exits of their host
        out += [("", bnd) for bnd in self.boundaries.get(nid, [])]
        return out

    def find_back_edges(self) -> set[str]:
        starts = [n for n, k in self.kind.items() if k == "startEvent"]
        state: dict[str, int] = {}
        back: set[str] = set()
        order: list[str] = []

        def visit(n: str) -> None:
            state[n] = 1
            order.append(n)
            for fid, t in self.successors(n):
                if state.get(t) == 1:
                    back.add(fid)
                elif t not in state:
                    visit(t)
            state[n] = 2

        sys.setrecursionlimit(10000)
        for s in starts:
            if s not in state:
                visit(s)
        for n in self.kind:
            if n not in state:
                visit(n)
        self.dfs_order = order
        return back

    def assign_columns(self, back: set[str]) -> dict[str, int]:
        col = dict.fromkeys(self.kind, 0)
        preds: dict[str, list[str]] = defaultdict(list)
        for fid, s, t in self.flows:
            if fid not in back:
                preds[t].append(s)
        # longest path; boundary events share their host's column
        changed = True
        guard = 0
        while changed:
            changed = False
            guard += 1
            if guard > 10 * len(col) + 10:
                raise SystemExit("cycle not broken while laying out")
            for n in self.kind:
                if self.kind[n] == "boundaryEvent":
                    new = col[self.nodes[n].get("attachedToRef")]
                else:
                    new = max([col[p] + 1 for p in preds[n]] or [0])
                if new != col[n]:
                    col[n] = new
                    changed = True
        return col

    # ---- geometry
    def run(self) -> etree._Element:
        back = self.find_back_edges()
        col = self.assign_columns(back)
        self.place(col)
        diagram = etree.Element(f"{{{BPMNDI}}}BPMNDiagram", id=f"BPMNDiagram_{self.process.get('id')}")
        self.plane = etree.SubElement(diagram, f"{{{BPMNDI}}}BPMNPlane",
                                      id=f"BPMNPlane_{self.process.get('id')}",
                                      bpmnElement=self.collab.get("id"))
        self.write_shapes()
        for index, (fid, s, t) in enumerate(self.flows):
            self.edge(fid, self.flow_points(s, t, fid in back, index))
        self.write_message_flows()
        return diagram

    def place(self, col: dict[str, int]) -> None:
        """Rows within lane and column, lane bands, and the bounds of every shape."""
        rows_used: dict[tuple[str, int], int] = defaultdict(int)
        row: dict[str, int] = {}
        for n in self.dfs_order:
            if self.kind[n] != "boundaryEvent":
                key = (self.lane_of[n], col[n])
                row[n] = rows_used[key]
                rows_used[key] += 1
        self.lane_y: dict[str, int] = {}
        self.lane_h: dict[str, int] = {}
        y = POOL_Y
        for lane in self.lanes:
            lid = lane.get("id")
            rows = max([r for (lname, _), r in rows_used.items() if lname == lid] or [1])
            self.lane_y[lid], self.lane_h[lid] = y, rows * ROW_H + 2 * LANE_PAD
            y += self.lane_h[lid]
        self.pool_h = y - POOL_Y
        self.pool_w = LANE_HEADER + LEFT_MARGIN + (max(col.values()) + 1) * COL_W + LEFT_MARGIN
        self.bounds: dict[str, tuple[float, float, float, float]] = {}
        for n in self.kind:
            if self.kind[n] == "boundaryEvent":
                continue
            w, h = size(self.kind[n])
            cx = POOL_X + LANE_HEADER + LEFT_MARGIN + col[n] * COL_W + 50
            cy = self.lane_y[self.lane_of[n]] + LANE_PAD + row[n] * ROW_H + ROW_H / 2
            self.bounds[n] = (cx - w / 2, cy - h / 2, w, h)
        for host, bnds in self.boundaries.items():
            hx, hy, hw, hh = self.bounds[host]
            for i, bnd in enumerate(bnds):
                self.bounds[bnd] = (hx + hw - 36 - 8 - i * 44, hy + hh - 18, 36, 36)
        self.ext_bounds: dict[str, tuple[float, float, float, float]] = {}
        ey = POOL_Y + self.pool_h + EXTERNAL_GAP
        for p in self.external:
            self.ext_bounds[p.get("id")] = (POOL_X, ey, self.pool_w, EXTERNAL_H)
            ey += EXTERNAL_H + EXTERNAL_GAP

    def shape(self, el_id: str, bounds: tuple[float, float, float, float], **attrs: str) -> None:
        s = etree.SubElement(self.plane, f"{{{BPMNDI}}}BPMNShape", id=f"{el_id}_di", bpmnElement=el_id)
        for k, v in attrs.items():
            s.set(k, v)
        x, y, w, h = bounds
        etree.SubElement(s, f"{{{DC}}}Bounds", x=fmt(x), y=fmt(y), width=fmt(w), height=fmt(h))

    def edge(self, el_id: str, points: list[tuple[float, float]]) -> None:
        e = etree.SubElement(self.plane, f"{{{BPMNDI}}}BPMNEdge", id=f"{el_id}_di", bpmnElement=el_id)
        cleaned: list[tuple[float, float]] = []
        for p in points:
            if not cleaned or cleaned[-1] != p:
                cleaned.append(p)
        for px, py in cleaned:
            etree.SubElement(e, f"{{{DI}}}waypoint", x=fmt(px), y=fmt(py))

    def write_shapes(self) -> None:
        self.shape(self.main.get("id"), (POOL_X, POOL_Y, self.pool_w, self.pool_h), isHorizontal="true")
        for lid, y in self.lane_y.items():
            self.shape(lid, (POOL_X + LANE_HEADER, y, self.pool_w - LANE_HEADER, self.lane_h[lid]),
                       isHorizontal="true")
        for n, b in self.bounds.items():
            attrs = {"isMarkerVisible": "true"} if self.kind[n] == "exclusiveGateway" else {}
            self.shape(n, b, **attrs)
        for pid, b in self.ext_bounds.items():
            self.shape(pid, b, isHorizontal="true")

    def flow_points(self, s: str, t: str, is_back: bool, index: int) -> list[tuple[float, float]]:
        """Orthogonal waypoints of a sequence flow from s to t."""
        sx, sy, sw, sh = self.bounds[s]
        tx, ty, tw, th = self.bounds[t]
        scx, scy = sx + sw / 2, sy + sh / 2
        tcx, tcy = tx + tw / 2, ty + th / 2
        if is_back:  # loops run back underneath the shapes
            chan = max(sy + sh, ty + th) + 14 + (index % 3) * 6
            return [(scx, sy + sh), (scx, chan), (tcx, chan), (tcx, ty + th)]
        if self.kind[s] == "boundaryEvent":
            below = sy + sh
            if tcy > below:
                return [(scx, below), (scx, tcy), (tx, tcy)]
            mid = tx - 25
            return [(scx, below), (scx, below + 16), (mid, below + 16), (mid, tcy), (tx, tcy)]
        if abs(scy - tcy) < 1:
            return [(sx + sw, scy), (tx, tcy)]
        if self.kind[s] in GATEWAYS:  # leave a split gateway from its top or bottom corner
            exit_y = sy + sh if tcy > scy else sy
            return [(scx, exit_y), (scx, tcy), (tx, tcy)]
        if self.kind[t] in GATEWAYS:  # enter a join gateway from above or below
            enter_y = ty if scy < tcy else ty + th
            return [(sx + sw, scy), (tcx, scy), (tcx, enter_y)]
        mid = sx + sw + (tx - sx - sw) / 2
        return [(sx + sw, scy), (mid, scy), (mid, tcy), (tx, tcy)]

    def write_message_flows(self) -> None:
        all_bounds = {**self.bounds, **self.ext_bounds}
        for mf in self.collab.findall("bpmn:messageFlow", NS):
            s, t = mf.get("sourceRef"), mf.get("targetRef")
            sx, sy, sw, sh = all_bounds[s]
            tx, ty, tw, th = all_bounds[t]
            if s in self.ext_bounds:  # external pool below -> node above: straight up
                points = [(tx + tw / 2, sy), (tx + tw / 2, ty + th)]
            elif t in self.ext_bounds:
                points = [(sx + sw / 2, sy + sh), (sx + sw / 2, ty)]
            else:
                points = [(sx + sw / 2, sy + sh), (tx + tw / 2, ty)]
            self.edge(mf.get("id"), points)


def fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"


def layout_file(path: Path) -> None:
    parser = etree.XMLParser(remove_blank_text=True)
    tree = etree.parse(str(path), parser)
    root = tree.getroot()
    for old in root.findall("bpmndi:BPMNDiagram", NS):
        root.remove(old)
    root.append(Layout(root).run())
    etree.indent(root, space="  ")
    path.write_bytes(etree.tostring(tree, xml_declaration=True, encoding="UTF-8", pretty_print=True))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    for arg in sys.argv[1:]:
        layout_file(Path(arg))
        print(f"laid out {arg}")
