"""A user task's deadline and stage plan, from the SLA policies, fixed when its row is created.

Where the deadline comes from, most specific first:

* the diagram: ``camunda:dueDate`` on the user task (a date or a duration, possibly an
  expression); the stages of the task's policy (reminder, warning, escalation) are then laid
  over that span in calendar time;
* the SLA policy file (``processes/sla.toml``): the best matching policy's working time for the
  customer's tier, counted in the policy's business calendar.

The customer tier is the case variable ``customer_tier`` (``A``, ``B`` or ``C``; anything else,
or none, gets the policy's ``default`` duration). The tier is read when the task is created:
a task keeps the deadline it was given, as staff were told.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..calendar import CALENDAR_TIME, WorkCalendar
from ..sla import TIERS, PolicySet, SlaClock, SlaPolicy, SlaStage

TIER_VARIABLE = "customer_tier"
_ZERO = timedelta(0)


def customer_tier(variables: Mapping[str, Any]) -> str | None:
    """The case's customer tier, if it names one of A, B, C (case-insensitive)."""
    value = variables.get(TIER_VARIABLE)
    if isinstance(value, str) and value.strip().upper() in TIERS:
        return value.strip().upper()
    return None


@dataclass(frozen=True)
class StagePlan:
    """Which stages a task's clock announces, how much working time after its start, and to whom."""

    policy: str | None
    tier: str | None
    calendar: WorkCalendar
    role: str | None
    escalate_to: str | None
    offsets: tuple[tuple[SlaStage, timedelta], ...]
    started_at: datetime

    def schedule(self) -> list[tuple[SlaStage, datetime]]:
        """Each stage's time on a clock that has not paused."""
        return stage_times(self.offsets, SlaClock(self.calendar, self.started_at), self.started_at)

    @property
    def due_at(self) -> datetime:
        return breach_time(self.schedule())

    def offsets_json(self) -> str:
        return json.dumps([[stage.value, offset.total_seconds()] for stage, offset in self.offsets])


def stage_times(
    offsets: tuple[tuple[SlaStage, timedelta], ...], clock: SlaClock, now: datetime
) -> list[tuple[SlaStage, datetime]]:
    """When each stage comes on ``clock``: its working-time offset, shifted by the clock's pauses."""
    return [(stage, _utc(clock.at_used(offset, now))) for stage, offset in offsets]


def breach_time(schedule: list[tuple[SlaStage, datetime]]) -> datetime:
    return next(when for stage, when in schedule if stage is SlaStage.BREACH)


def offsets_from_json(text: str) -> tuple[tuple[SlaStage, timedelta], ...]:
    return tuple((SlaStage(stage), timedelta(seconds=seconds)) for stage, seconds in json.loads(text))


def schedule_json(schedule: list[tuple[SlaStage, datetime]]) -> str:
    return json.dumps([[stage.value, when.isoformat()] for stage, when in schedule])


def schedule_from_json(text: str) -> list[tuple[SlaStage, datetime]]:
    return [(SlaStage(stage), datetime.fromisoformat(when)) for stage, when in json.loads(text)]


class DeadlinePlanner:
    """Turns the policy set into stage plans; without policies only diagram due dates count."""

    def __init__(self, policies: PolicySet | None) -> None:
        self.policies = policies

    def calendar(self, name: str) -> WorkCalendar:
        if self.policies is not None and name in self.policies.calendars:
            return self.policies.calendars[name]
        # A calendar removed from the file since: count the rest of the clock round the clock.
        return CALENDAR_TIME

    def plan(
        self,
        process_key: str,
        element_id: str,
        role: str | None,
        tier: str | None,
        created_at: datetime,
        diagram_due: datetime | None = None,
    ) -> StagePlan | None:
        policy = self.policies.for_task(process_key, element_id, role) if self.policies else None
        if diagram_due is not None:
            return self._plan_for_due(policy, role, tier, created_at, _utc(diagram_due))
        if policy is None:
            return None
        assert self.policies is not None
        escalate_to = self.policies.escalation_role(policy, role)
        return StagePlan(
            policy.name,
            tier,
            self.policies.calendar_for(policy),
            role,
            escalate_to,
            _without_nobody_to_escalate_to(policy.offsets(tier), escalate_to),
            created_at,
        )

    def _plan_for_due(
        self,
        policy: SlaPolicy | None,
        role: str | None,
        tier: str | None,
        created_at: datetime,
        due: datetime,
    ) -> StagePlan:
        span = due - created_at
        escalate_to = self.policies.escalation_role(policy, role) if self.policies and policy else None
        offsets: list[tuple[SlaStage, timedelta]] = [(SlaStage.BREACH, max(span, _ZERO))]
        if policy is not None and span > _ZERO:
            # The policy's stages, laid over the diagram's span in calendar time.
            over_span = SlaPolicy(
                policy.name, {}, span, CALENDAR_TIME.name,
                policy.reminder_before, policy.warning_at, policy.escalate_after, policy.escalate_to,
            )
            offsets = over_span.offsets(None)
        return StagePlan(
            policy.name if policy else None,
            tier,
            CALENDAR_TIME,
            role,
            escalate_to,
            _without_nobody_to_escalate_to(offsets, escalate_to),
            created_at,
        )


def _without_nobody_to_escalate_to(
    offsets: list[tuple[SlaStage, timedelta]], escalate_to: str | None
) -> tuple[tuple[SlaStage, timedelta], ...]:
    # A role with no manager in [roles] and no escalate_to has no one to escalate to.
    return tuple((s, o) for s, o in offsets if s is not SlaStage.ESCALATION or escalate_to)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
