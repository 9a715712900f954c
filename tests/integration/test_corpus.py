"""Diagrams drawn by other tools (BPMN MIWG reference files, Camunda's examples) deploy and run.

Every file in ``tests/corpus`` (unchanged copies of ../shared/corpus, kept in the repository
so that every clone runs them; licences in its README) either deploys or is refused with a
reason that the compatibility page (docs/compatibility.md) lists; every executable process that deploys
is driven to its end or to a wait for a message or signal, with a recording handler for
every handler it names, form data generated from its forms and external tasks completed
as a worker would. The runs that are known not to get there are listed on the page too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.clock import ManualClock
from engine.dry_run import DryRun, FileOutcome, RecordingHandlers, deploy_order, run_file
from engine.engine import Engine, EngineConfig
from engine.handler_registry import HandlerRegistry
from tests.conftest import ROOT

CORPUS = ROOT / "tests" / "corpus"
COMPATIBILITY = ROOT / "docs" / "compatibility.md"


def listed_phrases(section: str) -> list[str]:
    """The `phrases` in one section of the compatibility page (a refusal or known failure matches one)."""
    text = COMPATIBILITY.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"docs/compatibility.md has no section '## {section}'"
    return re.findall(r"^- `([^`]+)`", match.group(1), re.M)


def corpus_files() -> list[Path]:
    return deploy_order(CORPUS.rglob("*.bpmn"))


@pytest.fixture(scope="module")
def refusal_reasons() -> list[str]:
    return listed_phrases("Refused at deploy")


@pytest.fixture(scope="module")
def known_failures() -> list[str]:
    return listed_phrases("Known run failures")


def test_every_corpus_diagram_deploys_and_runs_or_is_refused_for_a_listed_reason(
    db_url: str, refusal_reasons: list[str], known_failures: list[str]
) -> None:
    clock = ManualClock()
    registry = HandlerRegistry()
    engine = Engine(
        EngineConfig(database_url=db_url, forms_dir=None, gateway_policy="camunda"),
        handlers=registry,
        clock=clock,
    )
    try:
        recorder = RecordingHandlers(registry)
        dry_run = DryRun(engine, clock)
        outcomes = [run_file(engine, dry_run, recorder, path) for path in corpus_files()]
    finally:
        engine.close()
    assert outcomes, "the corpus folder holds no .bpmn file"

    unexplained = [
        f"{o.name}: {p}"
        for o in outcomes
        for p in o.refused
        if not any(phrase in p.message for phrase in refusal_reasons)
    ]
    assert not unexplained, "refusals not listed on docs/compatibility.md:\n" + "\n".join(unexplained)

    failed = [
        f"{o.name}: {run}"
        for o in outcomes
        for run in o.runs
        if not run.ran and not any(phrase in run.detail for phrase in known_failures)
    ]
    assert not failed, "deployed processes that did not run to their end or a message wait:\n" + "\n".join(
        failed
    )

    ran = sum(o.ran for o in outcomes)
    total = sum(o.executable for o in outcomes)
    assert recorder.calls, "no handler was called: the runs did not reach a single service task"
    # The share grows as the engine learns more; it must never fall back.
    assert ran >= FLOOR, f"only {ran}/{total} processes ran (floor {FLOOR}):\n" + report(outcomes)


# Processes of the corpus that run today (bench/corpus.py prints the same figure).
FLOOR = 39


def report(outcomes: list[FileOutcome]) -> str:
    return "\n".join(f"{o.name}: {o.summary()}" for o in outcomes)
