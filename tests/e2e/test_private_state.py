"""`pipeflow run` leaves nothing under ./.pipeflow/ that another user may read, whatever the umask (issue 12)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent.parent
# A result over SWF's field limit, so the payload store gets folders and objects too.
PIPELINE = """
import pipeflow as pf

@pf.task
def big(n):
    return "x" * n

pipeline = pf.chain(big)
"""


def test_state_folders_are_0700_and_files_0600_under_umask_zero(tmp_path: Path) -> None:
    (tmp_path / "big.py").write_text(PIPELINE)
    prelude = "import os, runpy, sys; os.umask(0); runpy.run_module('pipeflow', run_name='__main__')"
    done = subprocess.run([sys.executable, "-c", prelude, "run", "big.py", "--input", "100000", "--no-progress",
                           "--workers", "1"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    state = tmp_path / ".pipeflow"
    paths = [state, *state.rglob("*")]
    assert any(p.is_file() and p.parent.name != ".pipeflow" for p in paths)  # an offloaded payload was written
    loose = {str(p.relative_to(tmp_path)): oct(stat.S_IMODE(p.stat().st_mode)) for p in paths
             if stat.S_IMODE(p.stat().st_mode) & 0o077}
    assert loose == {}
