"""Task specs the engine adds to SpiffWorkflow's.

Service tasks do not run inside SpiffWorkflow's engine steps: the task stops in the
STARTED state and the engine runs the handler itself, so that it can retry, raise an
incident, take a BPMN error boundary path, or leave the work to an external worker.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.spiff.specs.defaults import ServiceTask as SpiffServiceTask

# What a service task is bound to, as the engine reads it from the diagram.
KIND_HANDLER = "handler"
KIND_EXTERNAL = "external"


class EngineServiceTask(SpiffServiceTask):
    """A service task whose work the engine (or an external worker) does outside SpiffWorkflow."""

    def _execute(self, task: Any) -> None:
        # None tells SpiffWorkflow the task has started and is waiting to be completed.
        return None

    @property
    def binding_kind(self) -> str:
        return str(self.extensions.get("engine:kind", KIND_HANDLER))

    @property
    def handler_name(self) -> str:
        return str(self.operation_name)

    @property
    def topic(self) -> str | None:
        topic = self.extensions.get("engine:topic")
        return str(topic) if topic else None

    @property
    def max_retries(self) -> int | None:
        return int(self.retries) if self.retries is not None else None
