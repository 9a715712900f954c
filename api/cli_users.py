"""``flask --app api create-user NAME --role ROLE ...``: the first admin, and anyone after.

The password is prompted for (twice, hidden) at a terminal, or read from the first line of
standard input otherwise, so scripts can pipe it in without it showing in ``ps``.
"""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app

from engine.actors import Actor
from engine.users import UserDirectory

from .cli import engine_errors


def _read_password() -> str:
    if sys.stdin.isatty():
        password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    line = sys.stdin.readline()
    if not line:
        raise click.UsageError("No password on standard input")
    return line.rstrip("\r\n")


def register_user_commands(app: Flask) -> None:
    @app.cli.command("create-user")
    @click.argument("name")
    @click.option(
        "--role",
        "roles",
        multiple=True,
        metavar="ROLE",
        help="A role to give (repeatable, or comma-separated): agent, admin, designer, ...",
    )
    @click.option("--display-name", help="The name shown to others.")
    @click.option("--email", help="E-mail address.")
    @click.option(
        "--as", "actor_name", default="operator", help="Who creates the user (recorded in the history)."
    )
    @engine_errors
    def create_user(
        name: str, roles: tuple[str, ...], display_name: str | None, email: str | None, actor_name: str
    ) -> None:
        """Create user NAME with the given roles; the password is prompted or read from stdin."""
        directory: UserDirectory = current_app.extensions["users"]
        role_names = [r.strip() for value in roles for r in value.split(",") if r.strip()]
        password = _read_password()
        user = directory.create_user(
            Actor.operator(actor_name), name, password, role_names, display_name=display_name, email=email
        )
        click.echo(f"Created user {user['name']} with roles: {', '.join(user['roles']) or '(none)'}")
