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

from .errors import ValidationError
from .stepper import tasks_in_state

_UNDER_WAY = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


@dataclass(frozen=True)
class VariableChange:
    """What a change did: the values set, the names removed, and what each held before."""

    set: dict[str, Any]
    removed: list[str]
    previous: dict[str, Any]

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

    Each task changed gets a new dict (the store notices a replaced dict on an ended task) and
    its own copy of each value, as task data is never shared between tasks. ``previous`` is
    what the case held: as shown if it shows the name, else as the first task holding it.
    """
    if not setting and not removing:
        raise ValidationError("Nothing to change: give variables to set or names to remove")
    names = [*setting, *removing]
    previous: dict[str, Any] = {}
    changed = False
    for task in _holders(workflow):
        for name in names:
            if name in task.data and name not in previous:
                previous[name] = copy.deepcopy(task.data[name])
        data = {name: value for name, value in task.data.items() if name not in removing}
        data.update(copy.deepcopy(dict(setting)))
        if data != task.data:
            task.data = data
            changed = True
    removed = [name for name in removing if name in previous]
    if not changed:
        return VariableChange({}, [], {})
    return VariableChange(dict(setting), removed, previous)


def _holders(workflow: BpmnWorkflow) -> list[SpiffTask]:
    """The task whose data the case shows first, then every task still under way, then every
    finished one: a parallel join or the end of the process merges the data of each branch's
    last finished task, so a change left out of those would come back when the branches meet."""
    shown = workflow.last_task or workflow.task_tree
    others = [t for t in tasks_in_state(workflow, _UNDER_WAY) if t is not shown]
    finished = [t for t in tasks_in_state(workflow, TaskState.COMPLETED) if t is not shown]
    return [shown, *others, *finished]
