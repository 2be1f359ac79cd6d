"""Stages seen from outside: their rows, `tasks(expand=True)`, the timeline and `pipeflow tasks --expand`.

Real runs on the embedded engine (`pf.Client`, worker processes) and through boto3 against
the session's `pipeflow server`; the command line runs in this process (`main`), reading the
embedded state once the client has let it go.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

import pipeflow as pf
from pipeflow import running
from pipeflow.cli import main
from pipeflow.endpoint import swf_client
from pipeflow.running import _swf
from tests.e2e.pipelines import stage_views

pytestmark = pytest.mark.slow

COLUMNS = ["step", "task", "attempt", "status", "kind", "depth"]


def rows(frame: Any, columns: list[str] = COLUMNS) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in frame[columns].itertuples(index=False)]


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    assert info.value.code in (0, None), err
    return out


def test_a_stage_that_held_two_retries_shows_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = {"counter": str(tmp_path / "attempts"), "fail_times": 2}
    with pf.Client(workers=1) as client:
        run = client.submit(stage_views.flaky_stage, input=spec)
        assert run.result() == 4
        tasks = run.tasks()
        expanded = run.tasks(expand=True)
        title = run.timeline().axes[0].get_title()
        figure = run.timeline(expand=True)
    wid = run.workflow_id
    # The stage's own row: its name, its child execution.
    assert rows(tasks) == [("0", "flaky", 1, "COMPLETED", "stage", 0), ("1", "arith.inc", 1, "COMPLETED", "task", 0)]
    stage = tasks.iloc[0]
    assert stage["child_workflow_id"] == f"{wid}.0#1"
    assert isinstance(stage["child_run_id"], str) and stage["child_run_id"]
    # Expanded: the three attempts inside the stage, under its row, at their canvas path.
    assert rows(expanded) == [
        ("0", "flaky", 1, "COMPLETED", "stage", 0),
        ("0.0", "flaky_retries2", 1, "FAILED", "task", 1),
        ("0.0", "flaky_retries2", 2, "FAILED", "task", 1),
        ("0.0", "flaky_retries2", 3, "COMPLETED", "task", 1),
        ("1", "arith.inc", 1, "COMPLETED", "task", 0),
    ]
    assert list(expanded["parent"]) == [None, f"{wid}.0#1", f"{wid}.0#1", f"{wid}.0#1", None]
    assert "RuntimeError: flaky failure 1" in str(expanded.iloc[1]["error"])
    # The timeline counts the retries inside the stage, drawn or not.
    assert title == "2 attempts of 2 steps (2 retries, 2 inside stages)"
    assert figure.axes[0].get_title() == "5 attempts of 3 steps (2 retries, 2 inside stages)"
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == \
        ["0  flaky", "› 0.0  flaky_retries2", "1  arith.inc"]
    # The command line, reading the state the client let go.
    plain = [re.split(r"\s{2,}", line.strip())[:4] for line in cli(capsys, "tasks", run.run_id).splitlines()[1:]]
    assert plain == [["0", "flaky", "1", "COMPLETED"], ["1", "arith.inc", "1", "COMPLETED"]]
    table = cli(capsys, "tasks", run.run_id, "--expand").splitlines()
    assert [re.split(r"\s{2,}", line.strip())[:4] for line in table[1:]] == [
        ["0", "flaky", "1", "COMPLETED"], ["0.0", "flaky_retries2", "1", "FAILED"],
        ["0.0", "flaky_retries2", "2", "FAILED"], ["0.0", "flaky_retries2", "3", "COMPLETED"],
        ["1", "arith.inc", "1", "COMPLETED"],
    ]
    assert [line[:6] for line in table[1:]] == ["0     ", "  0.0 ", "  0.0 ", "  0.0 ", "1     "]  # indented
    docs = json.loads(cli(capsys, "tasks", run.run_id, "--expand", "--json"))
    assert [(d["step"], d["attempt"], d["depth"], d["parent"]) for d in docs] == [
        ("0", 1, 0, None), ("0.0", 1, 1, f"{wid}.0#1"), ("0.0", 2, 1, f"{wid}.0#1"), ("0.0", 3, 1, f"{wid}.0#1"),
        ("1", 1, 0, None)]
    assert (docs[0]["task"], docs[0]["kind"], docs[0]["child_workflow_id"], docs[0]["child_run_id"]) == \
        ("flaky", "stage", f"{wid}.0#1", stage["child_run_id"])


def test_stages_within_stages_and_shards_expand_recursively(tmp_path: Path) -> None:
    with pf.Client(workers=1) as client:
        nested = client.submit(stage_views.nested, input={"counter": str(tmp_path / "attempts"), "fail_times": 2})
        sharded = client.submit(stage_views.sharded, input=[1, 2, 3])
        assert (nested.result(), sharded.result()) == (3, 9)
        inside = nested.tasks(expand=True)
        shards = sharded.tasks(expand=True)
    assert rows(inside) == [
        ("0", "stage", 1, "COMPLETED", "stage", 0),
        ("0.0", "inner", 1, "COMPLETED", "stage", 1),
        ("0.0.0", "flaky_retries2", 1, "FAILED", "task", 2),
        ("0.0.0", "flaky_retries2", 2, "FAILED", "task", 2),
        ("0.0.0", "flaky_retries2", 3, "COMPLETED", "task", 2),
    ]
    assert inside.iloc[2]["parent"] == inside.iloc[1]["child_workflow_id"]
    assert rows(shards) == [
        ("0.shard.0", "shard", 1, "COMPLETED", "shard", 0),
        ("0.map.0", "arith.inc", 1, "COMPLETED", "task", 1),
        ("0.map.1", "arith.inc", 1, "COMPLETED", "task", 1),
        ("0.shard.1", "shard", 1, "COMPLETED", "shard", 0),
        ("0.map.2", "arith.inc", 1, "COMPLETED", "task", 1),
        ("1", "arith.total", 1, "COMPLETED", "task", 0),
    ]


def test_expand_reads_the_children_through_boto3_on_pipeflow_server(pipeflow_url: str, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    domain = f"views-{uuid.uuid4().hex[:10]}"
    swf = swf_client(endpoint_url=pipeflow_url, max_attempts=1)
    pipeline = stage_views.flaky_stage
    spec = {"counter": str(tmp_path / "attempts"), "fail_times": 2}
    with _swf._local(swf, domain, pipeline, lambda: running.register(swf, domain, pipeline), store=None,
                     workers=1) as check:
        workflow_id, run_id = running.start(swf, domain, pipeline, spec, store=None)
        assert running.wait(swf, domain, workflow_id, run_id, None, check=check, max_delay=0.2) == 4
    client = pf.Client.swf(domain=domain, endpoint_url=pipeflow_url)
    try:
        expanded = client.run(run_id).tasks(expand=True)
    finally:
        client.close()
    assert rows(expanded, ["step", "task", "attempt", "status"]) == [
        ("0", "flaky", 1, "COMPLETED"), ("0.0", "flaky_retries2", 1, "FAILED"), ("0.0", "flaky_retries2", 2, "FAILED"),
        ("0.0", "flaky_retries2", 3, "COMPLETED"), ("1", "arith.inc", 1, "COMPLETED")]
    docs = json.loads(cli(capsys, "tasks", run_id, "--expand", "--json", "--backend", "swf", "--domain", domain,
                          "--endpoint-url", pipeflow_url))
    assert [(d["step"], d["attempt"], d["depth"]) for d in docs] == \
        [("0", 1, 0), ("0.0", 1, 1), ("0.0", 2, 1), ("0.0", 3, 1), ("1", 1, 0)]
