"""Class and instance tasks, `Run.diff`/`Run.stats` and `pipeflow diff`/`stats` over `pipeflow server` (boto3)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import pipeflow as pf
from tests.e2e.pipelines import tools

pytestmark = pytest.mark.slow


def test_class_tasks_diff_and_stats_over_pipeflow_server(pipeflow_url: str, tmp_path: Path) -> None:
    domain = f"tools-{tmp_path.name}"[:200]
    with pf.Client(pipeflow_url, domain=domain, workers=1, store=str(tmp_path / "store")) as client:
        three, four = client.submit(tools.scaled, 3), client.submit(tools.scaled, 4)
        assert (three.result(), four.result()) == (3 * (0 + 1 + 2) + 100, 3 * (0 + 1 + 2 + 3) + 100)
        diff = three.diff(four).set_index("step")
        assert diff.loc["1.map.3", "change"] == "added"
        assert diff.loc["1.map.2", ["input", "result"]].tolist() == ["same", "same"]
        assert diff.loc["3", "result"] == "differs"
        stats = four.stats().tasks.set_index("task")
        assert stats.loc["tools.scale", "steps"] == 4 and stats.loc["tools.offset", "attempts"] == 1
    base = [sys.executable, "-m", "pipeflow"]
    where = ["--backend", "swf", "--domain", domain, "--endpoint-url", pipeflow_url]
    done = subprocess.run([*base, "stats", four.run_id, *where, "--json"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    tasks = {row["task"]: row for row in json.loads(done.stdout)["tasks"]}
    assert tasks["tools.scale"]["steps"] == 4
    done = subprocess.run([*base, "diff", three.run_id, four.run_id, *where], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "1.map.3" in done.stdout and "1 added, 0 missing" in done.stdout
