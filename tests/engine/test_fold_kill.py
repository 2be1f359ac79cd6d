"""SIGKILL `pipeflow run` inside its closing fold (every clean close folds the log); nothing is lost.

A `sitecustomize` on the process's PYTHONPATH kills it (SIGKILL, its own pid) at one instant
of `Store.write_snapshot`: after the closed runs' rows are inserted and before COMMIT, or just
after COMMIT. The product carries no test knob. Then, in new processes: the state opens, the
run reads as COMPLETED with its result, and the next clean close leaves no log behind.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

PIPELINE = """
import pipeflow as pf


@pf.task
def inc(x):
    return x + 1


@pf.task
def total(values):
    return sum(values)


pipeline = pf.chain(pf.map(inc), total)
"""

HOOK = '''
import os, signal

if os.environ.get("PIPEFLOW_TEST_KILL_IN_FOLD"):
    import pipeflow.engine._store as store

    where = os.environ["PIPEFLOW_TEST_KILL_IN_FOLD"]
    write_snapshot = store.Store.write_snapshot

    class Killing:
        def __init__(self, db):
            self.db = db

        def execute(self, sql, *args):
            if where == "before-commit" and sql == "COMMIT":
                os.kill(os.getpid(), signal.SIGKILL)
            return self.db.execute(sql, *args)

        def __getattr__(self, name):
            return getattr(self.db, name)

    def killing_write_snapshot(self, *args, **kwargs):
        db, self._db = self._db, Killing(self._db)
        try:
            write_snapshot(self, *args, **kwargs)
        finally:
            self._db = db
        if where == "after-commit":
            os.kill(os.getpid(), signal.SIGKILL)

    store.Store.write_snapshot = killing_write_snapshot
'''


def pipeflow(folder: Path, *args: str, kill: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder / "hook"), str(ROOT)])}
    if kill:
        env["PIPEFLOW_TEST_KILL_IN_FOLD"] = kill
    return subprocess.run([sys.executable, "-m", "pipeflow", *args], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("kill", ["before-commit", "after-commit"])
def test_a_run_killed_in_its_closing_fold_is_kept_whole(tmp_path: Path, kill: str) -> None:
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(textwrap.dedent(HOOK))
    (tmp_path / "pipe.py").write_text(PIPELINE)
    items = list(range(300))
    killed = pipeflow(tmp_path, "run", "pipe.py", "--input", json.dumps(items), "--no-progress", "--json", kill=kill)
    assert killed.returncode == -9, killed.stderr  # killed in the fold, after the run had closed
    db = tmp_path / ".pipeflow" / "state.sqlite"
    con = sqlite3.connect(db)
    try:
        logged = con.execute("SELECT count(*) FROM log").fetchone()[0]
    finally:
        con.close()
    # Before COMMIT the fold is undone and the run is in the log; after it, in its rows.
    assert (logged > 0) == (kill == "before-commit"), logged

    runs = pipeflow(tmp_path, "runs", "--json")
    assert runs.returncode == 0, runs.stderr
    (run,) = json.loads(runs.stdout)
    assert run["status"] == "COMPLETED", run
    result = pipeflow(tmp_path, "result", run["run_id"])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == sum(x + 1 for x in items)

    again = pipeflow(tmp_path, "run", "pipe.py", "--input", "[1, 2]", "--no-progress")  # a clean close folds all
    assert (again.returncode, again.stdout.strip()) == (0, "5"), again.stderr
    con = sqlite3.connect(db)
    try:
        assert con.execute("SELECT count(*) FROM log").fetchone() == (0,)
    finally:
        con.close()
