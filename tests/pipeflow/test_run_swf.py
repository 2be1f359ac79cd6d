"""`pipeflow run --backend swf` through the real command, against `pipeflow server` and moto over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from pipeflow.cli import main

ROOT = Path(__file__).resolve().parents[2]
WORDCOUNT = ROOT / "examples" / "pipelines" / "wordcount.py"
ARITH = ROOT / "tests" / "e2e" / "pipelines" / "arith.py"

FAILING = """
import pipeflow as pf

@pf.task
def double(x):
    return x * 2

@pf.task
def explode(x):
    raise ValueError(f"cannot handle {x}")

pipeline = pf.chain(double, explode)
"""

LARGE = """
import pipeflow as pf

@pf.task
def make(n):
    return "x" * n

@pf.task
def length(text):
    return len(text)

pipeline = pf.chain(make, length)
"""


def domain() -> str:
    """A domain of this test's own: the pipeflow server is shared by the session."""
    return f"test-{uuid.uuid4().hex[:12]}"


def pipeflow_run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m pipeflow run ... --backend swf` in a process of its own, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "pipeflow", "run", *args, "--backend", "swf", "--no-progress", "--workers", "1"],
        cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=120,
    )


@pytest.mark.slow
def test_wordcount_gives_the_exact_result(pipeflow_url: str, tmp_path: Path) -> None:
    done = pipeflow_run(tmp_path, str(WORDCOUNT), "--input", '"The cat and the hat. The END, the end!"',
                        "--domain", domain(), "--endpoint-url", pipeflow_url)
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(done.stdout) == [["the", 4], ["end", 2], ["and", 1], ["cat", 1], ["hat", 1]]


@pytest.mark.slow
def test_chain100_and_group100(pipeflow_url: str, tmp_path: Path) -> None:
    name = domain()
    done = pipeflow_run(tmp_path, f"{ARITH}:both", "--input", "0", "--domain", name,
                        "--endpoint-url", pipeflow_url, "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["status"], out["result"]) == ("COMPLETED", [100, 5050])
    # Registration is idempotent: the same pipeline again in the same domain.
    again = pipeflow_run(tmp_path, f"{ARITH}:chain100", "--input", "5", "--domain", name,
                         "--endpoint-url", pipeflow_url)
    assert (again.returncode, json.loads(again.stdout)) == (0, 105), again.stderr


@pytest.mark.slow
def test_failing_task_exits_1_with_step_task_error_and_run_id(pipeflow_url: str, tmp_path: Path) -> None:
    (tmp_path / "swf_failing.py").write_text(textwrap.dedent(FAILING))
    done = pipeflow_run(tmp_path, "swf_failing.py", "--input", "21", "--domain", domain(),
                        "--endpoint-url", pipeflow_url)
    assert (done.returncode, done.stdout) == (1, "")
    assert "Traceback" not in done.stderr
    assert "step 1, task swf_failing.explode" in done.stderr
    assert "ValueError: cannot handle 42" in done.stderr
    assert "(run " in done.stderr


def test_missing_domain_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", str(WORDCOUNT), "--backend", "swf", "--input", '"a"'])
    assert info.value.code == 2
    assert "--backend swf needs --domain" in capsys.readouterr().err


def test_swf_options_without_the_swf_backend_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", str(WORDCOUNT), "--domain", "d", "--input", '"a"'])
    assert info.value.code == 2
    assert "go with --backend swf" in capsys.readouterr().err


@pytest.mark.slow
def test_deprecated_workflow_type_is_a_clear_error(pipeflow_url: str, tmp_path: Path) -> None:
    import boto3

    name = domain()
    first = pipeflow_run(tmp_path, str(WORDCOUNT), "--input", '"a b"', "--domain", name, "--endpoint-url", pipeflow_url)
    assert first.returncode == 0, first.stderr
    swf = boto3.client("swf", endpoint_url=pipeflow_url, region_name="us-east-1")
    swf.deprecate_workflow_type(domain=name, workflowType={"name": "wordcount.pipeline", "version": "1"})
    done = pipeflow_run(tmp_path, str(WORDCOUNT), "--input", '"a b"', "--domain", name, "--endpoint-url", pipeflow_url)
    assert (done.returncode, done.stdout) == (2, "")
    assert "workflow type 'wordcount.pipeline' version '1' is deprecated" in done.stderr


@pytest.mark.slow
def test_moto_with_s3_store_and_a_large_payload(moto_url: str, tmp_path: Path) -> None:
    import boto3

    boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1").create_bucket(Bucket="payloads")
    (tmp_path / "swf_large.py").write_text(textwrap.dedent(LARGE))
    done = pipeflow_run(tmp_path, "swf_large.py", "--input", "50000", "--domain", domain(),
                        "--endpoint-url", moto_url, "--s3-bucket", "payloads/runs",
                        env={"AWS_ENDPOINT_URL_S3": moto_url})
    assert (done.returncode, json.loads(done.stdout or "null")) == (0, 50_000), done.stderr
    objects = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1").list_objects_v2(Bucket="payloads")
    sizes = [o["Size"] for o in objects.get("Contents", []) if o["Key"].startswith("runs/")]
    assert 50_002 in sizes  # the 50,000-character string crossed the step through S3, as JSON (quotes included)


@pytest.mark.slow
def test_no_local_workers_uses_workers_elsewhere(pipeflow_url: str, tmp_path: Path) -> None:
    name = domain()
    worker = subprocess.Popen(
        [sys.executable, "-m", "pipeflow", "worker", str(WORDCOUNT), "--domain", name,
         "--endpoint-url", pipeflow_url, "--processes", "1"],
        cwd=tmp_path, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        done = pipeflow_run(tmp_path, str(WORDCOUNT), "--input", '"b a b"', "--domain", name,
                            "--endpoint-url", pipeflow_url, "--no-local-workers")
        assert (done.returncode, done.stderr) == (0, ""), done.stderr
        assert json.loads(done.stdout) == [["b", 2], ["a", 1]]
    finally:
        worker.kill()  # not SIGTERM: a stopping worker waits for its polls in flight (60 s on this server)
        worker.communicate(timeout=30)
