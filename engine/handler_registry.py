"""Handlers: the Python code behind service tasks, registered by the name a diagram uses.

A handler receives a ``HandlerContext`` (plain data, plus an ORM session joined to the
command's transaction for the records it works on) and returns new variables. It may
raise ``BpmnErrorSignal`` to take the diagram's error path; anything else it raises is a
failure the engine retries and, when retries run out, turns into an incident.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

HandlerResult = Mapping[str, Any] | None
HandlerFunction = Callable[["HandlerContext"], HandlerResult]


@dataclass
class HandlerContext:
    variables: Mapping[str, Any]
    instance_id: str
    business_key: str | None
    process_key: str
    element_id: str
    handler: str
    actor: str
    now: datetime
    session: Session
    parameters: Mapping[str, Any] = field(default_factory=dict)
    # Things the engine should do after this step (e.g. send a message); filled by the handler.
    messages: list[tuple[str, str | None, dict[str, Any]]] = field(default_factory=list)

    def send_message(self, name: str, business_key: str | None = None, **variables: Any) -> None:
        """Correlate a message (to a waiting instance or a message start event) after this step."""
        self.messages.append((name, business_key, dict(variables)))


@dataclass(frozen=True)
class RegisteredHandler:
    name: str
    function: HandlerFunction
    retries: int | None
    description: str


class HandlerRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, RegisteredHandler] = {}

    def register(
        self, name: str, function: HandlerFunction, *, retries: int | None = None, description: str = ""
    ) -> None:
        if name in self._handlers and self._handlers[name].function is not function:
            raise ValueError(f"A handler named {name!r} is already registered")
        self._handlers[name] = RegisteredHandler(
            name, function, retries, description or (function.__doc__ or "")
        )

    def handler(
        self, name: str, *, retries: int | None = None
    ) -> Callable[[HandlerFunction], HandlerFunction]:
        """Decorator form of ``register``."""

        def decorate(function: HandlerFunction) -> HandlerFunction:
            self.register(name, function, retries=retries)
            return function

        return decorate

    def get(self, name: str) -> RegisteredHandler | None:
        return self._handlers.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._handlers

    def names(self) -> list[str]:
        return sorted(self._handlers)
