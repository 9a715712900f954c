"""How many of the diagrams other tools draw does the engine run?

    python bench/corpus.py [FOLDER…]        (default: ../shared/corpus, else its copy tests/corpus)

Deploys every .bpmn file under the folders into a fresh SQLite database, one file at a
time in name order, a file that calls another file's process after that file, with a
recording handler for every handler the file names; then drives each executable process
that deployed to its end or to a wait for a message or signal (see engine/dry_run.py).
Prints one line per file, the time it took, and last ``runs X/N``: processes that ran, of
the processes not marked ``isExecutable="false"``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.clock import ManualClock  # noqa: E402
from engine.db import Database  # noqa: E402
from engine.dry_run import DryRun, RecordingHandlers, deploy_order, run_file  # noqa: E402
from engine.engine import Engine, EngineConfig  # noqa: E402
from engine.handler_registry import HandlerRegistry  # noqa: E402
from engine.schema import upgrade  # noqa: E402

SHARED_CORPUS = ROOT.parent / "shared" / "corpus"
# The repository keeps an unchanged copy, so a clone away from ../shared still has a corpus.
DEFAULT_CORPUS = SHARED_CORPUS if SHARED_CORPUS.is_dir() else ROOT / "tests" / "corpus"


def diagrams(folders: list[Path]) -> list[Path]:
    found: list[Path] = []
    for folder in folders:
        found.extend(sorted(folder.rglob("*.bpmn")) if folder.is_dir() else [folder])
    return deploy_order(found)


def main(argv: list[str]) -> int:
    folders = [Path(a) for a in argv] or [DEFAULT_CORPUS]
    missing = [f for f in folders if not f.exists()]
    if missing:
        print(f"No such folder: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/corpus.sqlite3"
        db = Database(url)
        upgrade(db)
        db.dispose()
        clock = ManualClock()
        registry = HandlerRegistry()
        # Diagrams from other tools are read as Camunda reads them.
        config = EngineConfig(database_url=url, forms_dir=None, gateway_policy="camunda")
        engine = Engine(config, handlers=registry, clock=clock)
        dry_run = DryRun(engine, clock)
        recorder = RecordingHandlers(registry)
        ran = total = 0
        started = time.perf_counter()
        for path in diagrams(folders):
            began = time.perf_counter()
            outcome = run_file(engine, dry_run, recorder, path)
            ran += outcome.ran
            total += outcome.executable
            took = (time.perf_counter() - began) * 1000
            print(f"{path.name}: {outcome.summary()} [{took:.0f} ms]")
        engine.close()
    print(f"handler calls recorded: {len(recorder.calls)}; total {time.perf_counter() - started:.1f} s")
    print(f"runs {ran}/{total}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
