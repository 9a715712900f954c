"""Who acts, and what they may do to a task or an instance (DESIGN decision 6)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .errors import Forbidden

ADMIN = "admin"
AUDITOR = "auditor"
DESIGNER = "designer"
SERVICE_MANAGER = "service_manager"
DIRECTOR = "director"

# The roles the shipped processes' lanes name, plus the engine's own. Admins may add more
# (a designer who draws a new lane needs a role for it); these cannot be removed.
BUILTIN_ROLES: dict[str, str] = {
    "agent": "Call-center agent: records complaints and repair requests, calls customers back",
    "complaint_handler": "Verifies complaints and proposes a resolution",
    "dispatcher": "Confirms repair requests and dispatches technicians",
    "technician": "Carries out repair orders",
    SERVICE_MANAGER: "Reviews orders, approves compensation up to a limit, handles escalations",
    DIRECTOR: "Approves compensation above the service manager's limit",
    "finance": "Settles charges and compensation payments",
    "account_manager": "Owns service agreements",
    DESIGNER: "Edits and deploys process definitions",
    AUDITOR: "Reads everything, changes nothing",
    ADMIN: "Manages users and roles",
}
# Who may cancel, suspend and resume cases and retry their incidents.
CASE_MANAGER_ROLES = frozenset({SERVICE_MANAGER, DIRECTOR, ADMIN})


@dataclass(frozen=True)
class Actor:
    """A person or a system acting on the engine.

    ``system`` actors (the scheduler, an operator at the command line, handlers) are not
    restricted by roles; people are.
    """

    name: str
    roles: frozenset[str] = field(default_factory=frozenset)
    system: bool = False

    @classmethod
    def person(cls, name: str, roles: Iterable[str]) -> Actor:
        return cls(name, frozenset(roles))

    @classmethod
    def operator(cls, name: str = "operator") -> Actor:
        return cls(name, frozenset(), system=True)

    @property
    def is_admin(self) -> bool:
        return self.system or ADMIN in self.roles

    @property
    def read_only(self) -> bool:
        """Auditors read everything and change nothing (unless they also hold a working role)."""
        return not self.system and AUDITOR in self.roles and len(self.roles - {AUDITOR}) == 0


def comma_list(stored: str | None) -> list[str]:
    """The names of a comma-separated column (candidate users, candidate groups)."""
    return [name for name in (stored or "").split(",") if name]


def require_can_change(actor: Actor, what: str) -> None:
    if actor.read_only:
        raise Forbidden(f"{actor.name} is an auditor and may not {what}")


def may_work_on(
    actor: Actor,
    role: str | None,
    assignee: str | None,
    candidates: Iterable[str],
    groups: Iterable[str] = (),
) -> bool:
    """May ``actor`` complete or claim a task with this role (or candidate groups), assignee and
    candidate users?

    Only system actors (operators, the scheduler) bypass the lane: an admin manages people,
    not other people's work.
    """
    if actor.system:
        return True
    if assignee:
        return assignee == actor.name
    listed = set(candidates)
    if actor.name in listed:
        return True
    roles = set(groups) or ({role} if role is not None else set())
    if roles:
        return bool(roles & actor.roles)
    # No group and no lane: open to everyone, unless the diagram named candidate users, whose it then is.
    return not listed


def require_may_work_on(
    actor: Actor,
    task_name: str,
    role: str | None,
    assignee: str | None,
    candidates: Iterable[str],
    groups: Iterable[str] = (),
) -> None:
    require_can_change(actor, f"work on task {task_name!r}")
    if not may_work_on(actor, role, assignee, candidates, groups):
        if assignee:
            raise Forbidden(f"Task {task_name!r} is assigned to {assignee}, not to {actor.name}")
        if role is None:
            names = ", ".join(sorted(set(candidates)))
            raise Forbidden(
                f"Task {task_name!r} is for its candidate users ({names}); {actor.name} is not one"
            )
        several = sorted(set(groups))
        if len(several) > 1:
            raise Forbidden(
                f"Task {task_name!r} belongs to roles {', '.join(several)}; {actor.name} has none of them"
            )
        raise Forbidden(f"Task {task_name!r} belongs to role {role!r}, which {actor.name} does not have")


def may_start(actor: Actor, starter_groups: Iterable[str], starter_users: Iterable[str]) -> bool:
    """May ``actor`` start a process that names these starters (``camunda:candidateStarterGroups``
    / ``candidateStarterUsers``)? A process naming none may be started by anyone who may change
    things; system actors (the scheduler starting a timer's instance) are never held back."""
    groups, users = set(starter_groups), set(starter_users)
    if actor.system or not (groups or users):
        return True
    return actor.name in users or bool(groups & actor.roles)


def require_may_start(
    actor: Actor, process_key: str, starter_groups: Iterable[str], starter_users: Iterable[str]
) -> None:
    require_can_change(actor, "start processes")
    if not may_start(actor, starter_groups, starter_users):
        who = [f"roles {', '.join(sorted(starter_groups))}"] if starter_groups else []
        who += [f"users {', '.join(sorted(starter_users))}"] if starter_users else []
        raise Forbidden(f"{actor.name} may not start process {process_key!r}: only {' and '.join(who)} may")


def require_admin(actor: Actor, what: str) -> None:
    """Users, roles and other people's tokens are managed by admins only."""
    if not actor.is_admin:
        raise Forbidden(f"{actor.name} may not {what}: only an admin may")


def may_audit(actor: Actor) -> bool:
    """Whole-system reads (the history of everyone, the user list) are for auditors and admins."""
    return actor.is_admin or AUDITOR in actor.roles


def require_may_audit(actor: Actor, what: str) -> None:
    if not may_audit(actor):
        raise Forbidden(f"{actor.name} may not {what}: only auditors and admins may")


def require_may_deploy(actor: Actor) -> None:
    """Only designers change the processes everyone works by."""
    if not actor.system and DESIGNER not in actor.roles:
        raise Forbidden(f"{actor.name} may not deploy process definitions: only designers may")


def require_may_manage_cases(actor: Actor, what: str) -> None:
    """Cancelling, suspending or resuming a case and retrying its incidents is a manager's call."""
    require_can_change(actor, what)
    if not actor.system and not (CASE_MANAGER_ROLES & actor.roles):
        raise Forbidden(f"{actor.name} may not {what}: only {', '.join(sorted(CASE_MANAGER_ROLES))} may")


# Who may change the CRM's records through the API; every signed-in user may read them.
RECORD_EDITORS: dict[str, frozenset[str]] = {
    "customers": frozenset({"agent", "account_manager", SERVICE_MANAGER, ADMIN}),
    "technicians": frozenset({"dispatcher", SERVICE_MANAGER, ADMIN}),
    "stock": frozenset({"dispatcher", "finance", SERVICE_MANAGER, ADMIN}),
}


def require_may_edit_records(actor: Actor, kind: str) -> None:
    require_can_change(actor, f"change {kind}")
    editors = RECORD_EDITORS[kind]
    if not actor.system and not (editors & actor.roles):
        raise Forbidden(f"{actor.name} may not change {kind}: only {', '.join(sorted(editors))} may")
