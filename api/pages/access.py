"""Which pages and buttons a person is shown, decided by the engine's own rules.

The engine refuses whatever a person may not do; these only keep pages from offering it.
Each asks the rule in ``engine.actors`` rather than restating it.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.actors import (
    DESIGNER,
    Actor,
    may_audit,
    may_work_on,
    require_can_change,
    require_may_deploy,
    require_may_manage_cases,
)
from engine.errors import Forbidden


def _allowed(rule: Callable[[], None]) -> bool:
    try:
        rule()
    except Forbidden:
        return False
    return True


def may_change(actor: Actor) -> bool:
    return _allowed(lambda: require_can_change(actor, "change anything"))


def may_deploy(actor: Actor) -> bool:
    return _allowed(lambda: require_may_deploy(actor))


def may_manage_cases(actor: Actor) -> bool:
    return _allowed(lambda: require_may_manage_cases(actor, "manage cases"))


def may_view_designer(actor: Actor) -> bool:
    """Designers work there; auditors and admins read what was deployed, when and by whom."""
    return may_deploy(actor) or may_audit(actor)


def may_take(actor: Actor, task: dict[str, object]) -> bool:
    """May ``actor`` claim this open task (it is unassigned and theirs by role or as candidate)?"""
    return may_change(actor) and task.get("assignee") is None and _may_work_on(actor, task, None)


def may_complete(actor: Actor, task: dict[str, object]) -> bool:
    assignee = task.get("assignee")
    return may_change(actor) and _may_work_on(actor, task, assignee if isinstance(assignee, str) else None)


def _may_work_on(actor: Actor, task: dict[str, object], assignee: str | None) -> bool:
    """``may_work_on`` for a task as the queries give it (``queries.task_dict``)."""
    role, candidates, groups = task.get("role"), task.get("candidate_users"), task.get("candidate_groups")
    return may_work_on(
        actor,
        role if isinstance(role, str) else None,
        assignee,
        candidates if isinstance(candidates, list) else [],
        groups if isinstance(groups, list) else [],
    )


def may_hand_on(actor: Actor, task: dict[str, object]) -> bool:
    """May ``actor`` give a claimed task back or delegate it: its assignee, or an admin."""
    assignee = task.get("assignee")
    return may_change(actor) and assignee is not None and (assignee == actor.name or actor.is_admin)


def home_endpoint(actor: Actor) -> str:
    """Where a person lands: auditors on the cases, designers without a lane on their page, staff
    on their inbox."""
    if actor.read_only:
        return "pages.cases.case_list"
    if DESIGNER in actor.roles and not (actor.roles - {DESIGNER}):
        return "pages.designer.designer"
    return "pages.inbox.inbox"
