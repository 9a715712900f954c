"""One exception root for everything the engine refuses or fails at.

The API maps each branch to one HTTP status (RFC 9457 problem responses); the CLI
prints the message to standard error. Every branch carries enough detail to say what
is wrong and where.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a deployed file: where it is and what it is."""

    message: str
    file: str | None = None
    line: int | None = None
    element_id: str | None = None
    code: str = "invalid"

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line) if p is not None)
        element = f" [{self.element_id}]" if self.element_id else ""
        return f"{where}{element}: {self.message}" if where or element else self.message

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FieldError:
    """One field of a submitted form that is not acceptable."""

    field: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class EngineError(Exception):
    """Root of every error the engine raises on purpose."""

    status = 500
    title = "Engine error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> dict[str, Any]:
        """Extra members for a problem response."""
        return {}


class DefinitionError(EngineError):
    """A BPMN/DMN/form file cannot be deployed; nothing was stored."""

    status = 422
    title = "Invalid process definition"

    def __init__(self, problems: list[Problem], message: str | None = None) -> None:
        self.problems = problems
        text = message or "; ".join(str(p) for p in problems[:5])
        if len(problems) > 5:
            text += f" (and {len(problems) - 5} more)"
        super().__init__(text)

    def details(self) -> dict[str, Any]:
        return {"problems": [p.to_dict() for p in self.problems]}


class ScriptRefused(EngineError):
    """A script or expression tried something the sandbox does not allow."""

    status = 422
    title = "Script refused by the sandbox"

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


class ValidationError(EngineError):
    """Submitted data is not acceptable (form fields, variables, arguments)."""

    status = 422
    title = "Invalid input"

    def __init__(self, message: str, errors: list[FieldError] | None = None) -> None:
        self.errors = errors or []
        super().__init__(message)

    def details(self) -> dict[str, Any]:
        return {"errors": [e.to_dict() for e in self.errors]}


class BadRequest(EngineError):
    """A command that does not make sense for the current state (e.g. completing a closed task)."""

    status = 400
    title = "Bad request"


class NotFound(EngineError):
    status = 404
    title = "Not found"


class Conflict(EngineError):
    """Someone else changed the same thing first; retry with fresh state."""

    status = 409
    title = "Conflict"


class Forbidden(EngineError):
    """The actor may not do this (role, assignee, auditor read-only)."""

    status = 403
    title = "Forbidden"


class Unauthenticated(EngineError):
    """No valid credentials: a wrong password, an unknown, expired or revoked token."""

    status = 401
    title = "Unauthorized"


class TooManyAttempts(EngineError):
    """Too many failed logins in a row; the next try is allowed after ``retry_after`` seconds."""

    status = 429
    title = "Too many failed logins"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def details(self) -> dict[str, Any]:
        return {"retry_after": self.retry_after}


class HandlerFailed(EngineError):
    """A service-task handler raised; the engine retries or raises an incident."""

    status = 502
    title = "Handler failed"


class StoreError(EngineError):
    """The database refused or lost a write."""

    status = 503
    title = "Store unavailable"


@dataclass
class BpmnErrorSignal(Exception):
    """Raised by a handler (or sent by an external worker) to take the BPMN error path.

    Not an EngineError: it is a normal business outcome, caught by an error boundary event.
    """

    code: str
    message: str = ""
    variables: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"BPMN error {self.code}: {self.message}" if self.message else f"BPMN error {self.code}"


class ProcessFailed(EngineError):
    """The process itself failed while running a step (a script, a condition, a data mapping).

    The command is refused and nothing it did is kept; the diagram or the data needs fixing.
    """

    status = 422
    title = "Process step failed"

    def __init__(self, message: str, element_id: str | None = None) -> None:
        super().__init__(message)
        self.element_id = element_id

    def details(self) -> dict[str, Any]:
        return {"element_id": self.element_id} if self.element_id else {}
