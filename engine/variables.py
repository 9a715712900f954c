"""Changing a running case's variables from outside its diagram: an operator's repair.

A case stuck on data (a gateway whose condition names a variable nobody set, a handler that
failed on a bad value) is repaired by setting or removing the variables, then retrying its
incident. A SpiffWorkflow instance has no single variable scope: each task carries the data
it will hand on. The case's variables as the engine shows them are the data of the last task
that ended; the tasks still under way (open, waiting, failed) hold what the case goes on with.
A change is made to all of them, and to every finished task too (a join merges the data of
each branch's last finished task), so the case reads it wherever it continues.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState

from .bpmn.serializer import UNDER_WAY
from .errors import ValidationError
from .stepper import tasks_in_state


@dataclass(frozen=True)
class VariableChange:
    """What a change did: the values set, the names removed, what each held before as the case
    showed it (a name held only by finished steps has no previous value here), and whether any
    task's data changed at all."""

    set: dict[str, Any]
    removed: list[str]
    previous: dict[str, Any]
    changed: bool = True

    def as_event_data(self) -> dict[str, Any]:
        return {"set": self.set, "removed": self.removed, "previous": self.previous}


def check_removals(names: Any, setting: Mapping[str, Any]) -> list[str]:
    """The names to remove: a list of strings, none of them also being set."""
    if names is None:
        return []
    is_list = isinstance(names, Sequence) and not isinstance(names, str)
    if not is_list or any(not isinstance(n, str) for n in names):
        raise ValidationError("The variables to remove must be a list of names")
    both = sorted(set(names) & set(setting))
    if both:
        raise ValidationError(f"Variables {', '.join(both)} are both set and removed: choose one")
    return list(dict.fromkeys(names))


def change_variables(
    workflow: BpmnWorkflow, setting: Mapping[str, Any], removing: Sequence[str]
) -> VariableChange:
    """Set and remove variables in every task whose data the case may still read.

    Each task changed gets a new dict (the store notices a replaced dict on an ended task).
    Tasks under way get their own copy of each value, as a step may change its data in place;
    finished tasks share one copy (nothing changes them again, and a long case has hundreds).
    """
    if not setting and not removing:
        raise ValidationError("Nothing to change: give variables to set or names to remove")
    names = [*setting, *removing]
    live, finished = _holders(workflow)
    # What the case holds as it shows it and as it goes on: values that only old finished steps
    # still carry (a script deleted them since) are not the case's, nor copied into the history.
    previous: dict[str, Any] = {}
    for task in live:
        for name in names:
            if name in task.data and name not in previous:
                previous[name] = copy.deepcopy(task.data[name])
    removed = [name for name in removing if any(name in task.data for task in (*live, *finished))]
    shared = copy.deepcopy(dict(setting))
    changed = False
    for tasks, own_copy in ((live, True), (finished, False)):
        for task in tasks:
            data = {name: value for name, value in task.data.items() if name not in removing}
            data.update(copy.deepcopy(shared) if own_copy else shared)
            if data != task.data:
                task.data = data
                changed = True
    if not changed:
        return VariableChange({}, [], {}, changed=False)
    return VariableChange(dict(setting), removed, previous)


def _holders(workflow: BpmnWorkflow) -> tuple[list[SpiffTask], list[SpiffTask]]:
    """The tasks whose data the case shows and goes on with (the last that ended, then every
    task under way), and every other finished one: a parallel join or the end of the process
    merges the data of each branch's last finished task, so a change left out of those would
    come back when the branches meet."""
    shown = workflow.last_task or workflow.task_tree
    live = [shown, *(t for t in tasks_in_state(workflow, UNDER_WAY) if t is not shown)]
    ended = TaskState.COMPLETED | TaskState.CANCELLED
    finished = [t for t in tasks_in_state(workflow, ended) if t is not shown]
    return live, finished
