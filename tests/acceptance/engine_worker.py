"""A serving process for the crash test: executes engine commands read as JSON lines on stdin.

Each command is answered on stdout only after its transaction committed, so an answer is an
acknowledgement. The test kills this process with SIGKILL between (and during) commands.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from engine.actors import Actor
from engine.engine import Engine, EngineConfig
from engine.errors import EngineError
from engine.handler_registry import HandlerRegistry

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def run(engine: Engine, command: dict[str, Any]) -> Any:
    actor = Actor.operator(command.get("actor", "worker"))
    kind = command["op"]
    if kind == "deploy":
        return engine.deploy_paths([FIXTURES / command["file"]], actor=actor.name).to_dict()
    if kind == "start":
        return engine.runtime.start(
            actor=actor, process_key=command["key"], business_key=command.get("business_key")
        )
    if kind == "tasks":
        return engine.queries.tasks(instance_id=command["instance_id"])
    if kind == "complete":
        engine.runtime.complete_task(command["task_id"], command.get("data", {}), actor)
        return "ok"
    raise ValueError(f"unknown op {kind}")


def main() -> None:
    engine = Engine(
        EngineConfig(database_url=sys.argv[1], forms_dir=FIXTURES / "forms"), handlers=HandlerRegistry()
    )
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        try:
            reply = {"id": command["id"], "result": run(engine, command)}
        except EngineError as exc:
            reply = {"id": command["id"], "error": exc.message}
        print(json.dumps(reply, default=str), flush=True)


if __name__ == "__main__":
    main()
