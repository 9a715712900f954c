"""Latency of the REST API under load: gunicorn with several workers, driven from a second
process at rising request rates with a mix of starting cases, listing the inbox and
completing tasks.

The store is PostgreSQL when ``DATABASE_URL`` points at one (a scratch database is created
next to it and dropped afterwards), else a SQLite file. The driver sends requests on a fixed
schedule (open loop): a request's latency is counted from when it was due, so a server that
falls behind shows it in the percentiles instead of quietly slowing the driver down.

For each rate it prints the achieved throughput, p50 and p99 latency and errors. Last line:
``p99_ms_at_200rps X``.

    python bench/api.py [--rates 50,100,200,300] [--seconds 10] [--workers N] [--threads N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROCESS = Path(__file__).resolve().parent / "service_request.bpmn"
USER, PASSWORD = "bench-agent", "bench password 1"
# One slot of the mix, repeated: for every case started, two inbox reads and one completion.
MIX = ("start", "list", "complete", "list")
TARGET_RATE = 200


# -- the store ------------------------------------------------------------------------------------


@contextmanager
def scratch_database() -> Iterator[str]:
    """A fresh, empty database URL on the server DATABASE_URL names, or a SQLite file."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql")):
        with tempfile.TemporaryDirectory(prefix="bench-api-") as folder:
            yield f"sqlite:///{folder}/bench.sqlite3"
        return
    import psycopg
    from sqlalchemy.engine import make_url

    from engine.db import normalize_url

    base = make_url(normalize_url(url))
    name = f"crm_bench_{uuid.uuid4().hex[:10]}"
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare(database_url: str) -> str:
    """Migrate, deploy the benchmark process, create an agent; returns the agent's token."""
    from engine.actors import Actor
    from engine.engine import Engine, EngineConfig
    from engine.schema import upgrade
    from engine.users import UserDirectory

    engine = Engine(EngineConfig(database_url=database_url, forms_dir=None))
    try:
        upgrade(engine.db)
        engine.deploy_paths([PROCESS], actor="bench")
        users = UserDirectory(engine.db, engine.clock)
        users.create_user(Actor.operator("bench"), USER, PASSWORD, ["agent"])
        token, _record = users.issue_token(USER, PASSWORD, label="bench")
        return token
    finally:
        engine.close()


# -- the server -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn(database_url: str, workers: int, threads: int) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": uuid.uuid4().hex,
        "PYTHONPATH": str(ROOT),
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "--timeout",
        "60",
        "--config",
        str(ROOT / "gunicorn.conf.py"),
        # Threaded workers keep connections alive between requests; sync workers close each one.
        *(["--worker-class", "gthread", "--threads", str(threads)] if threads > 1 else []),
        "api:create_app()",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, server)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_until_up(base: str, server: subprocess.Popen[bytes]) -> None:
    import requests

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with code {server.returncode}")
        try:
            if requests.get(f"{base}/health", timeout=10).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or still importing
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn did not answer /health within 60 s")


# -- the driver (second process) ------------------------------------------------------------------


class Driver:
    """Sends the mix at a fixed rate; keeps each request's latency from when it was due.

    Plain ``http.client`` rather than ``requests``: the driver shares the machine with the
    server, and every millisecond it spends per request is taken from the server's CPU.
    """

    def __init__(self, base: str, token: str) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.open_tasks: deque[str] = deque()

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            connection.request(method, f"/api/v1{path}", body=payload, headers=self.headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def one(self, kind: str, due: float) -> tuple[str, float, bool]:
        task_id = None
        if kind == "complete":
            try:
                task_id = self.open_tasks.popleft()
            except IndexError:
                kind = "list"
        try:
            if kind == "start":
                status, data = self.call("POST", "/instances", {"process_key": "bench_request"})
                ok = status == 201
                if ok:
                    self.open_tasks.append(json.loads(data)["tasks"][0]["id"])
            elif kind == "complete":
                status, _ = self.call(
                    "POST", f"/tasks/{task_id}/complete", {"data": {"resolution": "answered"}}
                )
                ok = status == 200
            else:
                status, _ = self.call("GET", "/tasks?scope=inbox&limit=20")
                ok = status == 200
        except OSError:
            ok = False
        return kind, time.perf_counter() - due, ok

    def run(self, rate: float, seconds: float) -> dict[str, Any]:
        count = int(rate * seconds)
        results: list[tuple[str, float, bool]] = []
        with ThreadPoolExecutor(max_workers=128) as pool:
            began = time.perf_counter()
            futures = []
            for i in range(count):
                due = began + i / rate
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                futures.append(pool.submit(self.one, MIX[i % len(MIX)], due))
            results = [f.result() for f in futures]
            elapsed = time.perf_counter() - began
        latencies = sorted(latency for _kind, latency, _ok in results)
        kinds: dict[str, int] = {}
        for kind, _latency, _ok in results:
            kinds[kind] = kinds.get(kind, 0) + 1
        return {
            "rate": rate,
            "requests": count,
            "throughput": count / elapsed,
            "p50_ms": percentile(latencies, 0.50) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000,
            "errors": sum(1 for _kind, _latency, ok in results if not ok),
            "mix": kinds,
        }


def percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def drive(base: str, token: str, rates: list[float], seconds: float) -> None:
    driver = Driver(base, token)
    driver.run(20, 2)  # warm-up: workers import, connect and fill their caches
    for rate in rates:
        print(json.dumps(driver.run(rate, seconds)), flush=True)


# -- main ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="50,100,200,300", help="Requests per second, comma-separated.")
    parser.add_argument("--seconds", type=float, default=10.0, help="How long each rate runs.")
    # The work is CPU-bound (the store is in the worker for SQLite, a local server for PostgreSQL):
    # one worker per core and one to cover for a worker waiting on the database.
    default_workers = (os.cpu_count() or 1) + 1
    parser.add_argument("--workers", type=int, default=default_workers, help="gunicorn worker processes.")
    parser.add_argument("--threads", type=int, default=1, help="Threads per worker (gthread when above 1).")
    parser.add_argument("--drive", nargs=2, metavar=("URL", "TOKEN"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    if TARGET_RATE not in rates:
        rates = sorted({*rates, float(TARGET_RATE)})
    if args.drive:
        drive(args.drive[0], args.drive[1], rates, args.seconds)
        return

    with scratch_database() as database_url:
        store = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
        token = prepare(database_url)
        print(
            f"store {store}, gunicorn --workers {args.workers} --threads {args.threads}, "
            f"{os.cpu_count()} CPUs, "
            f"mix per 4 requests: 1 start, 2 inbox lists, 1 complete; {args.seconds:g} s per rate"
        )
        with gunicorn(database_url, args.workers, args.threads) as base:
            driver = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--drive",
                    base,
                    token,
                    "--rates",
                    ",".join(map(str, rates)),
                    "--seconds",
                    str(args.seconds),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
        if driver.returncode != 0:
            raise SystemExit(f"driver failed:\n{driver.stderr}")
        results = [json.loads(line) for line in driver.stdout.splitlines() if line.startswith("{")]
    print(f"{'rate/s':>8} {'achieved/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}  mix")
    for r in results:
        mix = ", ".join(f"{k} {v}" for k, v in sorted(r["mix"].items()))
        print(
            f"{r['rate']:>8.0f} {r['throughput']:>11.1f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
            f"{r['errors']:>7}  {mix}"
        )
    at_target = next(r for r in results if r["rate"] == TARGET_RATE)
    print(f"p99_ms_at_200rps {at_target['p99_ms']:.1f}")


if __name__ == "__main__":
    main()
