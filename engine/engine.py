"""Wiring: one ``Engine`` holds the database, the parsed-spec and live-instance caches, and
the services built on them (deployer, runtime, queries). It holds no logic of its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bpmn.serializer import make_serializer
from .bpmn.timers import ENGINE_CLOCK
from .clock import Clock, SystemClock
from .db import Base, Database
from .deploy import Deployer, DeployReport, files_in
from .expressions import EL_FUNCTIONS
from .handler_registry import HandlerRegistry
from .instance_store import InstanceStore
from .queries import Queries
from .runtime import Runtime
from .sandbox import make_script_engine
from .scheduler.alarm_book import AlarmBook
from .scheduler.alarms import AlarmRaiser
from .scheduler.clocks import DeadlineKeeper
from .scheduler.deadlines import DeadlinePlanner
from .scheduler.due_work import DueWork
from .scheduler.hints import WakeHints
from .scheduler.sla_commands import SlaCommands
from .scheduler.timer_commands import TimerCommands
from .scheduler.timer_starts import TimerStartSchedule
from .sla import PolicySet, load_policies
from .spec_cache import SpecCache
from .stepper import Stepper
from .task_rows import DeadlinePolicy


@dataclass
class EngineConfig:
    database_url: str | None = None
    forms_dir: Path | None = Path("forms")
    # Attempts after the first before a failing handler becomes an incident.
    handler_retries: int = 2
    # Live workflows kept in memory; bounded so memory stays flat however many cases are open.
    live_cache_size: int = 2000
    spec_cache_size: int = 256
    # "strict" refuses exclusive gateways with unconditioned flows and no default; "camunda"
    # deploys them with a warning and Camunda 7's reading (see engine/bpmn/validation.py).
    gateway_policy: str = "strict"
    extra_script_globals: dict[str, Any] = field(default_factory=dict)
    # SLA policies (a policy file such as processes/sla.toml, or a loaded set); None: only the
    # diagrams' camunda:dueDate gives deadlines.
    sla_policies: PolicySet | Path | None = None


class Engine:
    def __init__(
        self,
        config: EngineConfig | None = None,
        *,
        handlers: HandlerRegistry | None = None,
        clock: Clock | None = None,
        deadline_policy: DeadlinePolicy | None = None,
        db: Database | None = None,
    ) -> None:
        self.config = config or EngineConfig()
        self.db = db or Database(self.config.database_url)
        self.handlers = handlers or HandlerRegistry()
        self.clock: Clock = clock or SystemClock()
        self.specs = SpecCache(self._restore_spec, self.config.spec_cache_size)
        self.serializer = make_serializer(self.specs.resolve)
        self.store = InstanceStore(self.serializer, self.specs, self.config.live_cache_size)
        self.wake_hints = WakeHints()
        policies = self.config.sla_policies
        planner = DeadlinePlanner(load_policies(policies) if isinstance(policies, Path) else policies)
        self.deadlines = DeadlineKeeper(planner, self.wake_hints)
        self.stepper = Stepper(
            self.handlers,
            self.config.handler_retries,
            deadline_policy or self.deadlines,
            self.deadlines.rows_synced,
        )
        script_globals = {**EL_FUNCTIONS, **self.config.extra_script_globals}
        self.runtime = Runtime(
            self.db, self.store, self.stepper, self.clock, lambda: make_script_engine(script_globals)
        )
        self.deployer = Deployer(
            self.db,
            self.handlers,
            self.serializer.registry.convert,
            self.config.forms_dir,
            self.clock.now,
            gateway_policy=self.config.gateway_policy,
        )
        self.queries = Queries(self.db, self.specs)
        # Timers run on the engine's clock (a ManualClock in tests), reached through the script engine.
        setattr(self.runtime.script_engine, ENGINE_CLOCK, self.clock)
        self.deployer.listeners.append(TimerStartSchedule(self.wake_hints).on_deployed)
        self.alarms = AlarmBook(self.db, self.clock, planner)
        self.sla = SlaCommands(self.db, self.clock, planner, self.wake_hints)
        self.alarm_raiser = AlarmRaiser(self.db, self.clock)
        self.timers = TimerCommands(self.db, self.runtime, self.clock, self.wake_hints)
        self.due = DueWork(self.db, self.clock, self.alarm_raiser, self.timers)

    def _restore_spec(self, dct: dict[str, Any]) -> Any:
        return self.serializer.registry.restore(dct)

    def create_schema(self) -> None:
        """Create missing tables directly (tests); deployments use the Alembic migrations."""
        Base.metadata.create_all(self.db.engine)

    def deploy_paths(self, paths: list[Path], *, actor: str, changed_only: bool = True) -> DeployReport:
        sources, forms = files_in(paths)
        return self.deployer.deploy(
            sources,
            actor=actor,
            forms=forms,
            source="folder",
            changed_only=changed_only,
            name=", ".join(str(p) for p in paths),
        )

    def close(self) -> None:
        self.db.dispose()
