"""`fold_at_close`: a clean close folds a short log into a snapshot only past the threshold; nothing is lost."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pipeflow.engine import Engine

WF = {"name": "wf", "version": "1"}


def _counts(db: Path) -> tuple[int, int]:
    con = sqlite3.connect(db)
    try:
        return (con.execute("SELECT COUNT(*) FROM log").fetchone()[0],
                con.execute("SELECT COUNT(*) FROM snapshot").fetchone()[0])
    finally:
        con.close()


def _session(db: Path, runs: int, fold_at_close: int) -> None:
    with Engine(db=db, poll_timeout=0.05, fold_at_close=fold_at_close) as engine:
        c = engine.client()
        if not c.list_domains(registrationStatus="REGISTERED")["domainInfos"]:
            c.register_domain(name="d", workflowExecutionRetentionPeriodInDays="1")
            c.register_workflow_type(domain="d", name="wf", version="1", defaultTaskList={"name": "dt"},
                                     defaultExecutionStartToCloseTimeout="3600", defaultTaskStartToCloseTimeout="60",
                                     defaultChildPolicy="TERMINATE")
        for _ in range(runs):
            c.start_workflow_execution(domain="d", workflowId=f"w{_count(c)}", workflowType=WF)


def _count(c: object) -> int:
    return int(c.count_open_workflow_executions(  # type: ignore[attr-defined]
        domain="d", startTimeFilter={"oldestDate": 0})["count"])


def test_a_short_log_stays_a_log_and_the_next_open_replays_it(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite"
    _session(db, 3, fold_at_close=100)
    assert _counts(db) == (5, 0)  # two registrations, three starts: no snapshot written
    _session(db, 2, fold_at_close=100)
    assert _counts(db) == (7, 0)
    with Engine(db=db, poll_timeout=0.05) as engine:  # the default folds at every close
        assert _count(engine.client()) == 5
    assert _counts(db) == (0, 1)


def test_a_long_log_is_folded_at_close(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite"
    _session(db, 8, fold_at_close=5)
    assert _counts(db) == (0, 1)
    _session(db, 1, fold_at_close=5)
    assert _counts(db) == (1, 1)
    with Engine(db=db, poll_timeout=0.05, fold_at_close=5) as engine:
        assert _count(engine.client()) == 9
