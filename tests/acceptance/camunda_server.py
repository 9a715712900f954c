"""A real server for the Camunda acceptance tests: gunicorn on a free port, users signed up.

The server runs as it does in production (several gunicorn workers with threads, so a long
poll does not hold a whole worker) against the test's database.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from argon2 import PasswordHasher

from engine.actors import Actor
from engine.clock import SystemClock
from engine.db import Database
from engine.users import UserDirectory

ROOT = Path(__file__).resolve().parent.parent.parent
PASSWORD = "correct horse 1"


def add_users(db_url: str, users: dict[str, list[str]]) -> None:
    db = Database(db_url)
    try:
        directory = UserDirectory(db, SystemClock(), hasher=PasswordHasher(time_cost=1, memory_cost=1024))
        for name, roles in users.items():
            directory.create_user(Actor.operator(), name, PASSWORD, roles)
    finally:
        db.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_server(db_url: str, log: Path) -> Iterator[str]:
    """Serve the app on ``db_url``; yields the /engine-rest base URL."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "SECRET_KEY": "acceptance", "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "api:create_app()",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--worker-class",
        "gthread",
        "--threads",
        "4",
        "--timeout",
        "60",
    ]
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(f"http://127.0.0.1:{port}/health", process, log)
            yield f"http://127.0.0.1:{port}/engine-rest"
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited:\n{log.read_text()}")
        try:
            if requests.get(url, timeout=10).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not come up:\n{log.read_text()}")
