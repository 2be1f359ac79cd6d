"""`pf.repeat` over `pipeflow server` (moto has no ContinueAsNew): chains of runs, stages and large carries, cancel.

In this process through boto3 (a decider and workers here), and as processes: `pipeflow run
--backend swf`, then `pipeflow cancel` with the first run's id, which has closed CONTINUED_AS_NEW.
"""

from __future__ import annotations

import json
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

import pipeflow as pf
from pipeflow import running
from pipeflow.endpoint import swf_client
from pipeflow.running import _swf
from tests._support.histories import history
from tests.e2e.test_control_server import pipeflow  # `python -m pipeflow ...`, waited for or in the background

pytestmark = pytest.mark.slow

WAIT = 60.0
EXIT_CANCELED = 5


@pf.task(name="e2e_repeat.inc")
def inc(x: int) -> int:
    return x + 1


@pf.task(name="e2e_repeat.left")
def left(x: Any) -> dict[str, Any]:
    return {"n": 0 if isinstance(x, int) else x[0]["n"] + 1, "pad": "l" * 20_000}


@pf.task(name="e2e_repeat.right")
def right(x: Any) -> dict[str, Any]:
    return {"n": 0 if isinstance(x, int) else x[1]["n"] + 1, "pad": "r" * 20_000}


STAGED = pf.Pipeline(pf.repeat(pf.chain(pf.stage(pf.chain(inc, inc)), inc), times=3, continue_every=2),
                     name="e2e_repeat.staged")
# Each iteration's result is a list of two 20,000-character values: over SWF's 32,768 characters,
# so each run carries it to the next through the store.
WIDE = pf.Pipeline(pf.repeat(pf.group(left, right), times=3, continue_every=1), name="e2e_repeat.wide")


class Site:
    """A fresh domain on the session's `pipeflow server`, reached through boto3."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.domain = f"repeat-{uuid.uuid4().hex[:10]}"
        self.swf = swf_client(endpoint_url=url, max_attempts=1)

    def run(self, pipeline: pf.Pipeline, value: Any, store: str | None = None) -> tuple[str, Any]:
        """Register, start, decide and work one run from this process: (its workflow id, its result)."""
        with _swf._local(self.swf, self.domain, pipeline, lambda: running.register(self.swf, self.domain, pipeline),
                         store=store, workers=2) as check:
            workflow_id, run_id = running.start(self.swf, self.domain, pipeline, value, store=store)
            result = running.wait(self.swf, self.domain, workflow_id, run_id, store, check=check, max_delay=0.2)
        return workflow_id, result

    def executions(self) -> list[dict[str, Any]]:
        """Every closed execution of the domain, oldest first (none before the domain is registered)."""
        try:
            infos = self.swf.list_closed_workflow_executions(domain=self.domain, startTimeFilter={"oldestDate": 0},
                                                             maximumPageSize=1000)["executionInfos"]
        except self.swf.exceptions.UnknownResourceFault:
            return []
        return sorted(infos, key=lambda info: info["startTimestamp"])


def test_stages_in_a_repeat_and_the_chain_of_runs(pipeflow_url: str) -> None:
    site = Site(pipeflow_url)
    workflow_id, result = site.run(STAGED, 0)
    assert result == 9
    runs = [info for info in site.executions() if info["execution"]["workflowId"] == workflow_id]
    assert [info["closeStatus"] for info in runs] == ["CONTINUED_AS_NEW", "COMPLETED"]
    children = sorted(info["execution"]["workflowId"] for info in site.executions() if "parent" in info)
    assert children == [f"{workflow_id}.0.iter.{n}.0#1" for n in (1, 2, 3)]  # ids from iteration-scoped paths
    closing = history(site.swf, site.domain, runs[0]["execution"])[-1]
    assert closing["workflowExecutionContinuedAsNewEventAttributes"]["newExecutionRunId"] == \
        runs[1]["execution"]["runId"]


def test_a_large_result_is_carried_through_the_store(pipeflow_url: str, tmp_path: Path) -> None:
    site = Site(pipeflow_url)
    workflow_id, result = site.run(WIDE, 0, store=str(tmp_path / "store"))
    assert [r["n"] for r in result] == [2, 2] and result[0]["pad"] == "l" * 20_000
    runs = [info for info in site.executions() if info["execution"]["workflowId"] == workflow_id]
    assert len(runs) == 3
    started = history(site.swf, site.domain, runs[1]["execution"])[0]["workflowExecutionStartedEventAttributes"]
    doc = json.loads(started["input"])
    assert doc["repeat"]["iteration"] == 1 and set(doc["input"]) == {"offloaded"}


PIPELINE = """
import pipeflow as pf


@pf.task
def tick(x):
    return x + 1


forever = pf.repeat(tick, every="1h", continue_every=1)
"""


def test_cancel_with_the_first_run_id_stops_the_loop(pipeflow_url: str, tmp_path: Path) -> None:
    (tmp_path / "ticks.py").write_text(textwrap.dedent(PIPELINE))
    site = Site(pipeflow_url)
    where = ["--backend", "swf", "--domain", site.domain, "--endpoint-url", pipeflow_url]
    proc = pipeflow("run", "ticks.py:forever", "--input", "0", "--no-progress", *where, background=True)
    try:
        deadline = time.monotonic() + WAIT
        while not site.executions():  # the first run continued as new: the second waits an hour
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.1)
        [first] = site.executions()
        assert first["closeStatus"] == "CONTINUED_AS_NEW"
        cancel = pipeflow("cancel", first["execution"]["runId"], *where)
        assert cancel.returncode == 0, cancel.stderr
        _, err = proc.communicate(timeout=WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == EXIT_CANCELED, err
    assert [info["closeStatus"] for info in site.executions()] == ["CONTINUED_AS_NEW", "CANCELED"]
    listed = pipeflow("runs", "--json", *where)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert sorted(row["status"] for row in rows) == ["CANCELED", "CONTINUED_AS_NEW"]
    assert {row["workflow_id"] for row in rows} == {first["execution"]["workflowId"]}
