"""Turning a user name given at the command line into an engine Actor."""

from __future__ import annotations

from flask import current_app

from engine.actors import Actor
from engine.users import UserDirectory


def resolve_actor_by_name(name: str | None) -> Actor:
    """``--as NAME``: a known user acts with their own roles (and refusals); anyone else, or
    nobody named, is an operator at the command line, who is trusted like the system."""
    if name:
        directory: UserDirectory | None = current_app.extensions.get("users")
        account = directory.account_by_name(name) if directory is not None else None
        if account is not None:
            return account.actor
    return Actor.operator(name or "operator")
