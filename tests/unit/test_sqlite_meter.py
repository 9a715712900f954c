"""The benchmark's SQLite meter: it must count what SQLite did for the measured command, and only that."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.sqlite_meter import SqliteMeter


def _write(engine: object, value: int) -> None:
    with engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": value})


def test_counts_statements_and_commits_of_the_measured_command_only(tmp_path: Path) -> None:
    meter = SqliteMeter(str(tmp_path / "metered.sqlite3"))
    meter.install()
    metered = create_engine(f"sqlite:///{meter.path}")
    with metered.begin() as conn:
        conn.execute(text("CREATE TABLE t (v INTEGER)"))

    _write(metered, 1)  # not measuring: not counted
    assert (meter.seconds, meter.commit_seconds, meter.commands) == (0.0, 0.0, 0)

    with meter.measuring():
        _write(metered, 2)
        with metered.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 2
    assert meter.commands == 1
    assert meter.commit_seconds > 0
    assert meter.seconds > meter.commit_seconds  # the INSERT and the SELECT count too

    # Another thread's work while measuring (the WAL checkpointer's, say) is not the command's.
    before = meter.seconds
    with meter.measuring():
        worker = threading.Thread(target=_write, args=(metered, 3))
        worker.start()
        worker.join()
    assert meter.seconds == before
    assert meter.commands == 2


def test_leaves_other_databases_alone(tmp_path: Path) -> None:
    meter = SqliteMeter(str(tmp_path / "metered.sqlite3"))
    meter.install()
    other = create_engine(f"sqlite:///{tmp_path / 'other.sqlite3'}")
    with other.begin() as conn:
        conn.execute(text("CREATE TABLE t (v INTEGER)"))
    with meter.measuring():
        _write(other, 1)
    assert meter.seconds == 0.0
    with other.connect() as conn:
        assert type(conn.connection.driver_connection).__name__ == "Connection"
