"""Per-attempt logs: what a task prints, writes to stderr or logs is kept per attempt, off stdout.

`pipeflow run` processes print only the result on stdout; `pipeflow logs` and `Run.logs()` read
each attempt's log back from the run's store (or a failed attempt's tail from its failure details).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import pipeflow as pf
from pipeflow import wire
from pipeflow.cli import main

pytestmark = pytest.mark.slow

NOISY = Path(__file__).resolve().parent / "pipelines" / "noisy.py"


def pipeflow_process(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeflow", *args], check=False, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_run_prints_only_the_result_on_stdout() -> None:
    done = pipeflow_process("run", f"{NOISY}:pipeline", "--input", "1", "--no-progress", "--workers", "1")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "20\n"  # `pipeflow run ... | jq` gets exactly the JSON
    assert "stdout line" not in done.stderr  # kept in the attempt's log, not echoed


def test_logs_of_each_attempt(capsys: pytest.CaptureFixture[str]) -> None:
    done = pipeflow_process("run", f"{NOISY}:pipeline", "--input", "1", "--no-progress", "--json", "--workers", "1")
    assert done.returncode == 0, done.stderr
    run_id = json.loads(done.stdout)["run_id"]
    code, out, err = cli(capsys, "logs", run_id)
    assert code == 0, err
    assert "== 0 (noisy.chatty) attempt 1 ==" in out
    for line in ("stdout line 1", "stderr line 1", "info record 1", "from a child process",
                 "first attempt: about to fail", "second attempt: fine"):
        assert line in out
    assert "debug record" not in out
    assert out.index("first attempt") < out.index("second attempt")
    assert "attempt 2 ==" in out
    code, out, err = cli(capsys, "logs", run_id, "flaky", "--attempt", "2")
    assert code == 0, err
    assert "second attempt: fine" in out and "first attempt" not in out and "stdout line" not in out
    # the workflow id names the run too
    workflow_id = json.loads(done.stdout)["workflow_id"]
    code, again, err = cli(capsys, "logs", workflow_id, "0")
    assert code == 0 and "stdout line 1" in again and "second attempt" not in again


def test_run_logs_and_the_failed_attempts_tail() -> None:
    with pf.Client(workers=1) as client:
        run = client.submit(f"{NOISY}:failing", input=3)
        with pytest.raises(pf.TaskFailed):
            run.result()
        text = run.logs()
        assert "stdout line 3" in text and "progress 49" in text and "progress 0" in text
        only = run.logs("1", attempt=1)
        assert only.startswith("progress 0") and "stdout line" not in only
        doc = _failure_doc(run.events(), client.store)
    tail = doc["log_tail"]
    assert "progress 49" in tail and "progress 29" not in tail  # the last lines
    assert tail.count("\n") <= 21
    assert "/logs/" in doc["log"] and doc["log"].endswith(".logs")  # the worker process's segment of the run


def test_the_cap_keeps_the_tail(capsys: pytest.CaptureFixture[str]) -> None:
    with pf.Client(workers=1) as client:
        run = client.submit(f"{NOISY}:flooding", input=0)
        assert run.result() == 0
        text = run.logs("0", attempt=1)
    assert text.rstrip().endswith("the very last line")
    assert "bytes dropped" in text.splitlines()[0]
    assert 1_000_000 < len(text.encode()) <= 1_048_576 + 200


def test_a_run_without_a_store_keeps_the_failed_attempts_tail() -> None:
    with pf.Client(workers=1, store=None) as client:
        run = client.submit(f"{NOISY}:failing", input=4)
        with pytest.raises(pf.TaskFailed):
            run.result()
        doc = _failure_doc(run.events(), None)
        text = run.logs()
    assert "log" not in doc
    assert "progress 49" in doc["log_tail"] and len(doc["log_tail"].encode()) <= 4096
    assert "progress 49" in text  # the failure's tail is what there is
    assert "stdout line 4" not in text  # a completed attempt without a store keeps nothing


def _failure_doc(events: list[dict[str, Any]], store: str | None) -> dict[str, Any]:
    failed = [e for e in events if e["eventType"] == "ActivityTaskFailed"]
    assert failed
    return wire.decode_failure(failed[-1]["activityTaskFailedEventAttributes"]["details"], store)
