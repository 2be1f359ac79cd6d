"""Failures you can read: `run` (stderr, -v, --json), `status`, `tasks`; and the small items of the run commands.

In-process through `pipeflow.cli.main` (the console script's entry point), one run per module
where a run can be shared.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeflow.cli import main
from pipeflow.client._tables import render_status
from pipeflow.decider._markers import planned_steps

PIPELINES = """
import pipeflow as pf

@pf.task
def one(x):
    return (x or 0) + 1

@pf.task
def deep(x):
    print(f"deep got {x}")
    return f1(x)

def f1(x): return f2(x)
def f2(x): return f3(x)
def f3(x): return f4(x)
def f4(x): return f5(x)
def f5(x): return f6(x)
def f6(x): return down(x)

def down(x):
    raise ValueError(f"bad value {x}")

@pf.task
def three(x):
    return x

@pf.task
def items(x):
    return [1, 2, 3]

pipeline = pf.chain(one, deep, three)
fine = pf.chain(one, one, three)
mapped = pf.chain(items, pf.map(one), three)
"""


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("failures")
    (path / "failing_pipes.py").write_text(textwrap.dedent(PIPELINES))
    return path


@pytest.fixture()
def here(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(folder)
    monkeypatch.delenv("PIPEFLOW_STORE", raising=False)
    yield folder
    logging.getLogger("pipeflow").setLevel(logging.NOTSET)  # -v sets it


@pytest.fixture(scope="module")
def failed_run(folder: Path) -> Iterator[dict[str, object]]:
    """The --json document of one failed run of `pipeline` (its step `deep` fails), shared by the module."""
    patch = pytest.MonkeyPatch()
    patch.chdir(folder)
    patch.delenv("PIPEFLOW_STORE", raising=False)
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as info:
            main(["run", "failing_pipes.py", "--no-progress", "--json", "--workers", "1"])
        assert info.value.code == 1, err.getvalue()
        yield json.loads(out.getvalue())
    finally:
        patch.undo()


def test_run_json_of_a_failed_run_prints_the_error(failed_run: dict[str, object]) -> None:
    assert failed_run["status"] == "FAILED"
    error = failed_run["error"]
    assert isinstance(error, dict)
    assert {k: error[k] for k in ("step", "task", "attempt", "type", "message")} == {
        "step": "1", "task": "failing_pipes.deep", "attempt": 1, "type": "ValueError", "message": "bad value 1"}
    assert "in down" in error["traceback"] and error["traceback"].rstrip().endswith("ValueError: bad value 1")
    assert "pipeflow" not in error["traceback"]  # the task's frames only, not the worker's
    assert error["log_tail"] == "deep got 1\n"
    run = failed_run["run"]
    assert isinstance(run, dict) and run["run_id"] and run["workflow_id"].startswith("failing_pipes.pipeline-")


def test_run_prints_the_step_error_and_the_last_frames_of_the_traceback(here: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "run", "failing_pipes.py", "--no-progress", "--workers", "1")
    assert (code, out) == (1, "")
    assert "Error: step 1, task failing_pipes.deep, attempt 1: ValueError: bad value 1 (run " in err
    assert err.count('  File "') == 5 and "earlier frames (-v shows them)" in err
    assert "last lines of the log of step 1 (attempt 1; all of it: pipeflow logs failing_pipes.pipeline-" in err
    assert "\n  | deep got 1\n" in err
    assert err.rstrip().endswith(")") and "  ValueError: bad value 1\nError: step 1" in err
    assert "Traceback" not in err


def test_verbose_shows_the_whole_traceback_and_the_decisions_not_botocore(
        here: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    code, _, err = cli(capsys, "-v", "run", "failing_pipes.py", "--no-progress", "--workers", "1")
    assert code == 1
    assert err.count('  File "') == 8 and "earlier frames" not in err  # deep, f1-f6, down: the task's own
    decided = [r.getMessage() for r in caplog.records if r.name == "pipeflow.decider" and r.levelno == logging.INFO]
    assert any("schedule 1#1 (failing_pipes.deep)" in message for message in decided)
    assert not [r for r in caplog.records if r.name.startswith(("botocore", "urllib3")) and r.levelno < logging.WARNING]


def test_status_and_tasks_show_the_error(here: Path, failed_run: dict[str, object],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    run = failed_run["run"]
    assert isinstance(run, dict)
    code, out, _ = cli(capsys, "status", run["run_id"])
    assert code == 0
    assert "ValueError: bad value 1" in out
    assert "1/3 steps (33%)" in out  # the total is the canvas's three steps, not the two scheduled
    code, out, _ = cli(capsys, "tasks", run["run_id"])
    assert code == 0
    assert "ValueError: bad value 1" in out


def test_tasks_json_sizes_are_integers_or_null(here: Path, failed_run: dict[str, object],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    run = failed_run["run"]
    assert isinstance(run, dict)
    code, out, _ = cli(capsys, "tasks", run["run_id"], "--json")
    assert code == 0
    rows = json.loads(out)
    assert [type(r["result_size"]) for r in rows] == [int, type(None)]
    assert all(type(r["input_size"]) is int for r in rows)


def test_result_json_of_a_failed_run_prints_the_error(here: Path, failed_run: dict[str, object],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    run = failed_run["run"]
    assert isinstance(run, dict)
    code, out, err = cli(capsys, "result", run["run_id"], "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["status"] == "FAILED" and doc["error"]["type"] == "ValueError" and doc["run"] == run


def test_resume_from_a_step_the_pipeline_lacks_is_refused(here: Path, failed_run: dict[str, object],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    run = failed_run["run"]
    assert isinstance(run, dict)
    code, out, err = cli(capsys, "resume", "failing_pipes.py", run["run_id"], "--from", "7", "--no-progress")
    assert (code, out) == (2, "")
    assert ("--from 7: the pipeline has no step 7; give one of its steps: 0 (failing_pipes.one), "
            "1 (failing_pipes.deep), 2 (failing_pipes.three)") in err
    assert "Traceback" not in err


def test_gc_older_than_0s_collects_every_closed_run(here: Path, failed_run: dict[str, object],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    run = failed_run["run"]
    assert isinstance(run, dict)
    code, out, err = cli(capsys, "gc", "--older-than", "0s", "--dry-run")
    assert code == 0, err
    assert any(line.endswith(f"/{run['workflow_id']}") for line in out.splitlines())


def test_the_progress_total_comes_from_the_canvas() -> None:
    import pipeflow as pf

    assert planned_steps(None) == (0, False)

    @pf.task
    def t(x: int) -> int:
        return x

    assert planned_steps(pf.chain(t, pf.group(t, t.s()), pf.stage(pf.chain(t, t)))) == (4, True)
    assert planned_steps(pf.chain(t, pf.map(t), t)) == (2, False)  # at least: the map's size is not known


def test_status_says_at_least_while_a_map_is_ahead() -> None:
    doc = {"workflow_id": "w", "run_id": "r", "pipeline": "p", "version": "1", "status": "RUNNING",
           "started": None, "closed": None, "duration": None, "events": 9,
           "progress": {"done": 5, "total": 12, "exact": False}}
    assert "5 of at least 12 steps" in render_status(doc)
    doc["progress"] = {"done": 1, "total": 3, "exact": True}
    assert "1/3 steps (33%)" in render_status(doc)
