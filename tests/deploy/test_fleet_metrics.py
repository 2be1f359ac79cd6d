"""`pipeflow fleet-metrics` against `pipeflow server` and moto: pending tasks, open runs and the oldest pending age.

The runs are started in-process through pipeflow's API (as a submitter elsewhere would); no
decider or worker runs unless the test plays one, so the tasks stay pending where the test
put them and every figure is known exactly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from pipeflow import running
from pipeflow._loader import load_pipeline
from pipeflow.client import fleet_metrics, render_fleet
from pipeflow.decider import DeciderLoop
from pipeflow.endpoint import swf_client

PIPE = """
import pipeflow as pf

@pf.task
def double(x):
    return 2 * x

@pf.task(task_list="gpu")
def paint(x):
    return x

pipeline = pf.Pipeline(pf.chain(double, paint), name="fleet", version="1")
"""


@pytest.fixture(params=["pipeflow-server", "moto"])
def endpoint(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("pipeflow_url" if request.param == "pipeflow-server" else "moto_url"))


def _started(url: str, tmp_path: Path, runs: int) -> tuple[Any, str, Any]:
    """A fresh domain with `runs` open runs of the pipeline above: (client, domain, definition)."""
    path = tmp_path / "fleetpipe.py"
    path.write_text(PIPE)
    definition = load_pipeline(f"{path}:pipeline").target
    swf = swf_client(endpoint_url=url, max_attempts=1)
    domain = f"fleet-{uuid.uuid4().hex[:10]}"
    running.register(swf, domain, definition)
    for _ in range(runs):
        running.start(swf, domain, definition, {"x": 1}, store=None)
    return swf, domain, definition


def _lists(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["task_list"]: m for m in doc["task_lists"]}


def test_pending_decisions_then_activities_with_their_ages(endpoint: str, tmp_path: Path) -> None:
    swf, domain, definition = _started(endpoint, tmp_path, runs=2)
    doc = fleet_metrics(swf, domain, now=time.time() + 100)
    lists = _lists(doc)
    # the registered types' default lists are reported, the idle one ("gpu") included
    assert sorted(lists) == ["fleet", "gpu"]
    assert (doc["open_executions"], doc["executions_read"], doc["complete"]) == (2, 2, True)
    assert lists["fleet"]["pending_decision_tasks"] == 2 and lists["fleet"]["pending_activity_tasks"] == 0
    assert lists["fleet"]["open_executions"] == 2
    assert 100 <= lists["fleet"]["oldest_pending_seconds"] < 130  # scheduled just now, seen from 100 s ahead
    assert lists["gpu"]["oldest_pending_seconds"] is None and lists["gpu"]["pending_decision_tasks"] == 0

    # one decision: the first run's step 1 is scheduled on "fleet" as an activity
    assert DeciderLoop(swf, domain, "fleet", [definition]).run_once()
    lists = _lists(fleet_metrics(swf, domain))
    assert lists["fleet"]["pending_activity_tasks"] == 1
    assert lists["fleet"]["pending_decision_tasks"] == 1
    assert lists["fleet"]["oldest_pending_seconds"] is not None and lists["fleet"]["oldest_pending_seconds"] < 30

    only = fleet_metrics(swf, domain, ["gpu"])
    assert [m["task_list"] for m in only["task_lists"]] == ["gpu"]  # exactly the lists asked for


def test_the_command_prints_json_and_a_table(endpoint: str, tmp_path: Path) -> None:
    _swf, domain, _ = _started(endpoint, tmp_path, runs=1)
    env = {**os.environ, "AWS_ENDPOINT_URL_SWF": endpoint}
    command = [sys.executable, "-m", "pipeflow", "fleet-metrics", "--domain", domain]
    out = subprocess.run([*command, "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert _lists(doc)["fleet"]["pending_decision_tasks"] == 1 and doc["open_executions"] == 1
    text = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert text.returncode == 0, text.stderr
    header, *rows = text.stdout.splitlines()[1:]
    assert header.split()[:3] == ["TASK", "LIST", "PENDING"]
    assert [row.split()[0] for row in rows] == ["fleet", "gpu"]


def test_more_open_runs_than_read_are_counted_and_flagged(pipeflow_url: str, tmp_path: Path) -> None:
    # moto has no CountOpenWorkflowExecutions (HTTP 500): the server only
    swf, domain, _ = _started(pipeflow_url, tmp_path, runs=3)
    doc = fleet_metrics(swf, domain, max_executions=1)
    assert (doc["open_executions"], doc["executions_read"], doc["complete"]) == (3, 1, False)
    assert _lists(doc)["fleet"]["pending_decision_tasks"] == 3
    assert _lists(doc)["fleet"]["open_executions"] == 1
    assert "lower bound" in render_fleet(doc)


def test_an_unknown_domain_is_one_line_naming_it(pipeflow_url: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pipeflow", "fleet-metrics", "--domain", "no-such-domain", "--endpoint-url", pipeflow_url],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode in (2, 4), out.stderr
    assert "no-such-domain" in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
