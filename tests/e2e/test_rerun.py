"""`pipeflow rerun FILE RUN STEP`: a past attempt's step run again in this process, with the input it got.

Real `pipeflow` processes: runs on the embedded engine and on the session's `pipeflow server`
(--backend swf), then reruns of their steps, the debugger on stdin, and the refusals (exit 2).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.e2e.test_logs import cli

pytestmark = pytest.mark.slow

TOOLS = Path(__file__).resolve().parent / "pipelines" / "tools.py"


def pipeflow(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeflow", *args], check=False, input=stdin,
                          stdin=None if stdin is not None else subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)


def run(target: str, value: object, *options: str) -> str:
    """`pipeflow run` (which may fail): the run id."""
    done = pipeflow("run", target, "--input", json.dumps(value), "--json", "--no-progress", "--workers", "1", *options)
    doc = json.loads(done.stdout)
    return str(doc["run"]["run_id"] if "run" in doc else doc["run_id"])


def test_a_failed_step_inside_a_stage_raises_again_here_with_its_traceback_and_pdb() -> None:
    run_id = run(f"{TOOLS}:squares", 8)  # 0..7 squared sum to 140: the stage's check fails
    done = pipeflow("rerun", f"{TOOLS}:squares", run_id, "2.0.1")
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    assert "checking 140" in done.stderr  # what the task prints, on stderr: stdout is for the result
    assert 'tools.py", line' in done.stderr and "in check" in done.stderr  # the task's frame, run here
    assert "_tools.py" not in done.stderr and "_rerun.py" not in done.stderr  # not pipeflow's own frames
    assert done.stderr.rstrip().endswith("Error: step 2.0.1 (tools.check) raised ValueError: too large: 140")
    debugged = pipeflow("rerun", f"{TOOLS}:squares", run_id, "2.0.1", "--pdb", stdin="p value * 2\nq\n")
    assert debugged.returncode == 1, debugged.stderr
    assert "-> raise ValueError" in debugged.stdout and "280" in debugged.stdout  # evaluated in the task's frame


def test_steps_of_a_map_and_the_first_step_print_their_results(capsys: pytest.CaptureFixture[str]) -> None:
    run_id = run(f"{TOOLS}:squares", 8)
    assert cli(capsys, "rerun", f"{TOOLS}:squares", run_id, "1.map.7")[:2] == (0, "49\n")
    code, out, err = cli(capsys, "rerun", f"{TOOLS}:squares", run_id, "0", "--attempt", "1")
    assert (code, out) == (0, "[0, 1, 2, 3, 4, 5, 6, 7]\n"), err
    assert "rerunning step 0 (tools.numbers) attempt 1" in err


def test_an_offloaded_input_is_read_from_the_store(capsys: pytest.CaptureFixture[str]) -> None:
    run_id = run(f"{TOOLS}:big", 40_000)
    code, out, err = cli(capsys, "rerun", f"{TOOLS}:big", run_id, "1")
    assert (code, out) == (0, "40000\n"), err
    code, out, err = cli(capsys, "rerun", f"{TOOLS}:big", run_id, "1", "--store", "memory://other")
    assert code == 2 and "give --store" in err


def test_refusals_are_usage_errors_naming_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "my_pipeline.py"
    shutil.copy(TOOLS, copy)
    run_id = run(f"{copy}:squares", 3)
    cases = {
        ("nope", "0"): "no run 'nope'",
        (run_id, "9"): "has no task attempt at step '9'",
        (run_id, "2"): "step 2 is a stage or a shard",
        (run_id, "0", "--attempt", "2"): "has no attempt 2: give --attempt one of 1",
    }
    for args, message in cases.items():
        code, _, err = cli(capsys, "rerun", f"{copy}:squares", *args)
        assert code == 2 and message in err and "Traceback" not in err, (args, err)
    copy.write_text(copy.read_text().replace('name="tools.check"', 'name="tools.checked"'))
    # a new interpreter: this one has loaded the file as it was
    changed = pipeflow("rerun", f"{copy}:squares", run_id, "2.0.1")
    assert changed.returncode == 2 and "is not the file run" in changed.stderr and "--allow-changed" in changed.stderr
    allowed = pipeflow("rerun", f"{copy}:squares", run_id, "2.0.1", "--allow-changed")
    assert allowed.returncode == 2 and "ran task tools.check (version 1), which" in allowed.stderr


def test_a_run_on_an_swf_endpoint(pipeflow_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    swf = ["--backend", "swf", "--domain", f"rerun-{uuid.uuid4().hex[:8]}", "--endpoint-url", pipeflow_url]
    store = ["--store", str(tmp_path / "store")]
    run_id = run(f"{TOOLS}:big", 40_000, *swf, *store)
    code, out, err = cli(capsys, "rerun", f"{TOOLS}:big", run_id, "1", *swf, *store)
    assert (code, out) == (0, "40000\n"), err
    code, _, err = cli(capsys, "rerun", f"{TOOLS}:big", "nope", "1", *swf)
    assert code == 2 and "no run 'nope'" in err


LAMBDAS = """
import pipeflow as pf


@pf.task
def words(text):
    return text.split()


@pf.task(lambda_function="shout-words")
def shout(items):  # on Amazon SWF the function shout-words; here (and in a rerun) this body
    return [item.upper() + "!" for item in items]


pipeline = pf.chain(words, shout)
"""


def test_a_lambda_step_is_rerun_from_its_scheduled_input(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    target = tmp_path / f"lambdas_{uuid.uuid4().hex[:8]}.py"
    target.write_text(LAMBDAS)
    run_id = run(str(target), "hello lambda")
    code, out, err = cli(capsys, "rerun", str(target), run_id, "1")
    assert (code, json.loads(out)) == (0, ["HELLO!", "LAMBDA!"]), err
    assert "rerunning step 1" in err
    target.write_text(LAMBDAS.replace('"shout-words"', '"another-function"'))  # the file changed since the run
    done = pipeflow("rerun", str(target), run_id, "1", "--allow-changed")
    assert done.returncode == 2 and "ran the Lambda function shout-words, which" in done.stderr, done.stderr
