"""Lambda steps over `pipeflow server`: the run's own workers, or a `pipeflow worker`, serve the stand-in."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from pipeflow.endpoint import swf_client
from tests._support.histories import closed_executions, history
from tests._support.processes import pipeflow_process

pytestmark = pytest.mark.slow

PIPELINE = Path(__file__).resolve().parent / "pipelines" / "lambdas.py"
ROLE = "arn:aws:iam::123456789012:role/swf-lambda"


def pipeflow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeflow", *args], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60)


def test_lambda_steps_run_over_pipeflow_server_with_the_role_passed_to_stages(pipeflow_url: str) -> None:
    domain = f"lambda-{uuid.uuid4().hex[:10]}"
    done = pipeflow("run", str(PIPELINE), "--input", "3", "--backend", "swf", "--domain", domain,
                    "--endpoint-url", pipeflow_url, "--lambda-role", ROLE, "--no-progress", "--workers", "1")
    assert (done.returncode, done.stdout.strip()) == (0, "625"), done.stderr  # (9 + 16) ** 2
    swf = swf_client(endpoint_url=pipeflow_url)
    runs = closed_executions(swf, domain)
    assert len(runs) == 2  # the run and its stage
    activities = []
    for run in runs:
        events = history(swf, domain, run)
        assert events[0]["workflowExecutionStartedEventAttributes"]["lambdaRole"] == ROLE
        assert {"LambdaFunctionScheduled", "LambdaFunctionCompleted"} <= {e["eventType"] for e in events}
        activities += [e["activityTaskScheduledEventAttributes"]["activityId"] for e in events
                       if e["eventType"] == "ActivityTaskScheduled"]
    assert activities == ["2#1"]  # the class task; every other step is a Lambda function


def test_a_pipeflow_worker_serves_the_stand_in(pipeflow_url: str, tmp_path: Path) -> None:
    domain = f"lambda-{uuid.uuid4().hex[:10]}"
    common = ["--domain", domain, "--endpoint-url", pipeflow_url]
    with (tmp_path / "worker.log").open("wb") as log, \
            pipeflow_process("worker", str(PIPELINE), *common, "--processes", "1", log=log):
        done = pipeflow("run", str(PIPELINE), "--input", "1", "--backend", "swf", *common, "--no-local-workers",
                        "--no-progress", "--json")
    assert done.returncode == 0, done.stderr + (tmp_path / "worker.log").read_text()
    assert json.loads(done.stdout)["result"] == 25  # (1 + 4) ** 2
