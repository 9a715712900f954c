"""The CRM domain behind the processes' service tasks.

``build_registry()`` returns the registry of every handler the diagrams in processes/ name.
Handlers receive plain data and an ORM session for the CRM records; they never import Flask.
"""

from __future__ import annotations

from engine.handler_registry import HandlerRegistry

HANDLER_MODULES: tuple[str, ...] = (
    "handlers.customers",
    "handlers.complaints",
    "handlers.repairs",
    "handlers.dispatch",
    "handlers.parts",
    "handlers.costing",
    "handlers.compensation",
    "handlers.callbacks",
    "handlers.agreements",
)


def build_registry() -> HandlerRegistry:
    import importlib

    registry = HandlerRegistry()
    for name in HANDLER_MODULES:
        module = importlib.import_module(name)
        module.register(registry)
    return registry
