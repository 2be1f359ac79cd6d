"""`pipeflow run/resume --no-wait`: a submitter's commands, which decide and work nothing here."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

from click.testing import CliRunner

from pipeflow.cli import cli

PIPE = """
import pipeflow as pf

@pf.task
def double(x):
    return 2 * x

pipeline = pf.Pipeline(double, name="submitted", version="1")
"""


def test_no_wait_goes_with_the_swf_backend(tmp_path: Path) -> None:
    (tmp_path / "pipe.py").write_text(PIPE)
    runner = CliRunner()
    for args in (["run", str(tmp_path / "pipe.py"), "--no-wait"], ["resume", str(tmp_path / "pipe.py"), "RUN", "--no-wait"]):
        out = runner.invoke(cli, args)
        assert out.exit_code == 2 and "--no-wait" in out.output and "--backend swf" in out.output, out.output


def test_no_wait_starts_the_run_and_leaves_it_to_the_fleet(pipeflow_url: str, tmp_path: Path) -> None:
    (tmp_path / "pipe.py").write_text(PIPE)
    domain = f"submit-{uuid.uuid4().hex[:10]}"
    done = subprocess.run(
        [sys.executable, "-m", "pipeflow", "run", "pipe.py", "--input", "21", "--backend", "swf", "--domain", domain,
         "--endpoint-url", pipeflow_url, "--no-wait", "--json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["status"] == "RUNNING" and "pipeflow status" in done.stderr
    from pipeflow.endpoint import swf_client

    swf = swf_client(endpoint_url=pipeflow_url, max_attempts=1)
    info = swf.describe_workflow_execution(domain=domain, execution={"workflowId": doc["workflow_id"],
                                                                     "runId": doc["run_id"]})
    # open, on the pipeline's own task list (where `pipeflow decider` polls), its decision not taken here
    assert info["executionInfo"]["executionStatus"] == "OPEN"
    assert info["executionConfiguration"]["taskList"]["name"] == "submitted"
    assert info["openCounts"]["openDecisionTasks"] == 1
