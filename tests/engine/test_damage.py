"""Damage to a stopped server's files is found at open; `pipeflow server --recover` keeps what verifies."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests._support.servers import TEST_CREDENTIALS, pipeflow_server_process

pytestmark = pytest.mark.slow

REPO = Path(__file__).parent.parent.parent
RUNS = 300  # started in the second session, after the snapshot
# Session 1 (closed: snapshot): 100 runs, 10 terminated. Session 2 (SIGKILL: log only): RUNS more, 10 terminated.
_BUILD = """
import os, signal, sys
from pipeflow.engine import Engine
db, session = sys.argv[1], sys.argv[2]
engine = Engine(db=db)
swf = engine.client()
first = session == "1"
if first:
    swf.register_domain(name="d", workflowExecutionRetentionPeriodInDays="1")
    swf.register_workflow_type(domain="d", name="w", version="1", defaultTaskList={"name": "t"},
                               defaultChildPolicy="TERMINATE", defaultTaskStartToCloseTimeout="60",
                               defaultExecutionStartToCloseTimeout="3600")
n, base = (100, 0) if first else (int(sys.argv[3]), 100)
for i in range(base, base + n):
    swf.start_workflow_execution(domain="d", workflowId=f"wf-{i}", workflowType={"name": "w", "version": "1"})
for i in range(base, base + 10):
    swf.terminate_workflow_execution(domain="d", workflowId=f"wf-{i}")
if first:
    engine.close()
else:
    os.kill(os.getpid(), signal.SIGKILL)  # no snapshot: the last session is only in the log (and its WAL)
"""


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A server database: a snapshot, then RUNS + 10 log rows left by a SIGKILLed engine."""
    db = tmp_path_factory.mktemp("template") / "state.sqlite"
    subprocess.run([sys.executable, "-c", _BUILD, str(db), "1"], check=True, cwd=REPO)
    killed = subprocess.run([sys.executable, "-c", _BUILD, str(db), "2", str(RUNS)], cwd=REPO)
    assert killed.returncode == -signal.SIGKILL
    assert Path(f"{db}-wal").stat().st_size > 0
    return db


def _copy(template: Path, folder: Path) -> Path:
    for suffix in ("", "-wal", "-shm", ".head"):
        if Path(f"{template}{suffix}").exists():
            shutil.copyfile(f"{template}{suffix}", folder / f"state.sqlite{suffix}")
    return folder / "state.sqlite"


def _sql(db: Path, *statements: str) -> None:
    con = sqlite3.connect(str(db), isolation_level=None)
    for statement in statements:
        con.execute(statement)
    con.close()


def _zero_length(db: Path) -> None:
    _sql(db, "PRAGMA wal_checkpoint(TRUNCATE)")  # folds the WAL in first, or it would hide the damage
    db.write_bytes(b"")


def _drop_log(db: Path) -> None:
    _sql(db, "DROP TABLE log")


def _delete_wal(db: Path) -> None:
    os.remove(f"{db}-wal")
    if os.path.exists(f"{db}-shm"):
        os.remove(f"{db}-shm")


def _damage_wal(db: Path) -> None:
    wal = Path(f"{db}-wal")
    data = bytearray(wal.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = b"\xa5" * 64
    wal.write_bytes(bytes(data))


def _log_rows(db: Path) -> list[int]:
    con = sqlite3.connect(str(db))
    rows = [r[0] for r in con.execute("SELECT seq FROM log ORDER BY seq")]
    con.close()
    return rows


def _delete_middle_row(db: Path) -> None:
    rows = _log_rows(db)
    _sql(db, f"DELETE FROM log WHERE seq = {rows[len(rows) // 2]}")


def _delete_last_100(db: Path) -> None:
    rows = _log_rows(db)
    _sql(db, f"DELETE FROM log WHERE seq >= {rows[-100]}")


def _change_params(db: Path) -> None:
    rows = _log_rows(db)
    _sql(db, f"UPDATE log SET params = replace(params, 'wf-', 'wX-') WHERE seq = {rows[50]}")


def _garbage(db: Path) -> None:
    _sql(db, "PRAGMA wal_checkpoint(TRUNCATE)")
    with open(db, "r+b") as f:
        f.write(os.urandom(4096))


# (damage, what the message says, open runs kept by --recover: None = not checked exactly)
CASES: dict[str, tuple[Callable[[Path], None], str, int | None]] = {
    "zero-length db": (_zero_length, "it is empty, but its head", 0),
    "dropped log table": (_drop_log, "log table is missing", 90),
    "deleted WAL after SIGKILL": (_delete_wal, "acknowledged changes are lost", None),
    "damaged WAL bytes": (_damage_wal, "acknowledged change", None),
    "one middle row deleted": (_delete_middle_row, "is missing", None),
    "last 100 rows deleted": (_delete_last_100, "the log ends at row", None),
    "changed params row": (_change_params, "does not match its checksum", 90 + 50),
    "garbage bytes in the db": (_garbage, "SQLite cannot read it", 0),
}


def _open_runs(url: str) -> int:
    """The open runs in domain "d" (0 when the domain is gone too)."""
    swf: Any = boto3.client("swf", endpoint_url=url, region_name="us-east-1", **{
        k.lower(): v for k, v in TEST_CREDENTIALS.items()})
    pages = swf.get_paginator("list_open_workflow_executions").paginate(
        domain="d", startTimeFilter={"oldestDate": 0})
    try:
        return sum(len(page["executionInfos"]) for page in pages)
    except swf.exceptions.UnknownResourceFault:
        return 0


def test_undamaged_template_opens_with_every_run(template: Path, tmp_path: Path) -> None:
    db = _copy(template, tmp_path)
    with pipeflow_server_process(db, extra=("--no-auth", "--poll-timeout", "1")) as (url, _proc):
        assert _open_runs(url) == 100 - 10 + RUNS - 10


@pytest.mark.parametrize("kind", list(CASES))
def test_damage_is_refused_then_recovered(template: Path, tmp_path: Path, kind: str) -> None:
    damage, says, kept = CASES[kind]
    db = _copy(template, tmp_path)
    damage(db)
    before = sorted(p.name for p in tmp_path.iterdir())
    refused = subprocess.run([sys.executable, "-m", "pipeflow", "server", "--port", "0", "--no-auth", "--db", str(db)],
                             cwd=REPO, capture_output=True, text=True, timeout=30,
                             env={**os.environ, **TEST_CREDENTIALS})
    assert refused.returncode == 4, refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert str(db) in lines[0] and says in lines[0] and f"pipeflow server --db {db} --recover" in lines[0], lines[0]
    # refusing moved nothing (SQLite may fold its WAL in or leave an empty one)
    assert {n for n in before if not n.endswith(('-wal', '-shm'))} <= {p.name for p in tmp_path.iterdir()}

    banner: list[str] = []
    with pipeflow_server_process(db, extra=("--no-auth", "--recover", "--poll-timeout", "1"),
                                 banner=banner) as (url, _proc):
        count = _open_runs(url)
    report = next(line for line in banner if line.startswith("recovered"))
    assert "dropped" in report and "damaged-" in report, report
    assert any(p.name.startswith("state.sqlite.damaged-") for p in tmp_path.iterdir())  # kept aside
    assert count < 100 - 10 + RUNS - 10
    if kept is not None:
        assert count == kept, report
    # what --recover wrote verifies: the next plain start takes it as it is
    with pipeflow_server_process(db, extra=("--no-auth", "--poll-timeout", "1")) as (url, _proc):
        assert _open_runs(url) == count


def test_embedded_engine_gives_the_same_message(template: Path, tmp_path: Path) -> None:
    state = tmp_path / ".pipeflow"
    state.mkdir()
    db = _copy(template, state)
    _delete_last_100(db)
    pipeline = REPO / "examples" / "pipelines" / "wordcount.py"
    for command in (["run", str(pipeline), "--input", '"a b"'], ["runs"], ["status", "wf-1"]):
        done = subprocess.run([sys.executable, "-m", "pipeflow", *command],
                              cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert done.returncode == 4, (command, done.stderr)
        assert "Traceback" not in done.stderr
        assert "is damaged: the log ends at row" in done.stderr and "--recover" in done.stderr, done.stderr


def test_format_1_database_is_migrated(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite"
    con = sqlite3.connect(str(db), isolation_level=None)
    con.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE log (seq INTEGER PRIMARY KEY AUTOINCREMENT, op TEXT NOT NULL, now REAL NOT NULL,
                          params TEXT NOT NULL);
        CREATE TABLE snapshot (seq INTEGER PRIMARY KEY, data TEXT NOT NULL);
        INSERT INTO meta VALUES ('salt', 'abcdef012345'), ('format', '1');
        INSERT INTO log (op, now, params) VALUES
          ('RegisterDomain', 1.5, '{"name":"d","workflowExecutionRetentionPeriodInDays":"1"}');
    """)
    con.close()
    with pipeflow_server_process(db, extra=("--no-auth", "--poll-timeout", "1")) as (url, _proc):
        swf: Any = boto3.client("swf", endpoint_url=url, region_name="us-east-1", **{
            k.lower(): v for k, v in TEST_CREDENTIALS.items()})
        assert [d["name"] for d in swf.list_domains(registrationStatus="REGISTERED")["domainInfos"]] == ["d"]
    con = sqlite3.connect(str(db))
    assert con.execute("SELECT value FROM meta WHERE key='format'").fetchone() == ("4",)  # chained, closed runs in rows
    con.close()
