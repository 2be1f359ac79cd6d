"""The engine's files are private to their user whatever the umask: folders 0700, database files 0600."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent.parent

# Under umask 0 (every file world-writable by default): open an engine, write through it, report the modes.
SCRIPT = """
import json, os, sys
os.umask(0)
from pipeflow.engine import Engine
db = sys.argv[1]
engine = Engine(db=db)
engine.client().register_domain(name="d", workflowExecutionRetentionPeriodInDays="1")
paths = [db, db + "-wal", db + "-shm", os.path.dirname(db)]
modes = {p: oct(os.stat(p).st_mode & 0o777) for p in paths if os.path.exists(p)}
engine.close()
print(json.dumps(modes))
"""


def modes_under_umask_zero(db: Path) -> dict[str, str]:
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(db)], capture_output=True, text=True, timeout=60,
                          cwd=ROOT, check=True)
    return dict(json.loads(done.stdout))


def test_new_state_is_private_under_umask_zero(tmp_path: Path) -> None:
    db = tmp_path / "deep" / ".pipeflow" / "state.sqlite"
    modes = modes_under_umask_zero(db)
    assert modes[str(db)] == "0o600"
    assert modes[str(db.parent)] == "0o700"
    assert modes.get(f"{db}-wal", "0o600") == "0o600" and modes.get(f"{db}-shm", "0o600") == "0o600"
    assert f"{db}-wal" in modes  # the write went through the log
    assert stat.S_IMODE((tmp_path / "deep").stat().st_mode) == 0o700  # folders it created, too


def test_existing_state_is_tightened(tmp_path: Path) -> None:
    state = tmp_path / ".pipeflow"
    state.mkdir(mode=0o755)
    os.chmod(state, 0o755)
    db = state / "state.sqlite"
    db.touch()
    os.chmod(db, 0o644)
    modes = modes_under_umask_zero(db)
    assert modes[str(db)] == "0o600" and modes[str(state)] == "0o700"


def test_a_users_own_folder_keeps_its_mode(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    modes = modes_under_umask_zero(tmp_path / "state.sqlite")
    assert modes[str(tmp_path / "state.sqlite")] == "0o600"
    assert modes[str(tmp_path)] == "0o755"  # --db ./state.sqlite must not lock the user's project folder
