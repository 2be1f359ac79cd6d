"""`pipeflow run` through the real entry point: exit codes, stdout, one-paragraph errors."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pipeflow.cli import main

PIPELINE = """
import pipeflow as pf

@pf.task
def double(x):
    return x * 2

@pf.task
def explode(x):
    raise ValueError(f"cannot handle {x}")

@pf.task
def opaque(x):
    return object()

pipeline = pf.chain(double, double)
failing = pf.chain(double, explode)
unencodable = pf.chain(opaque)
number = 7
"""


@pytest.fixture()
def pipeline_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Path:
    monkeypatch.chdir(tmp_path)
    # a distinct module name per test: the loader registers modules by file stem
    path = tmp_path / f"cli_{request.node.name.replace('[', '_').replace(']', '').replace('-', '_')}.py"
    path.write_text(textwrap.dedent(PIPELINE))
    return path


def invoke(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(["run", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return int(info.value.code or 0), out, err


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = invoke(capsys, str(tmp_path / "absent.py"))
    assert (code, out) == (2, "")
    assert "No pipeline file at" in err


def test_syntax_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "cli_syntax.py"
    path.write_text("import pipeflow as pf\npipeline = pf.chain(\n")
    code, _, err = invoke(capsys, str(path))
    assert code == 2
    assert f"Syntax error in {path}, line 2" in err


def test_missing_attribute(capsys: pytest.CaptureFixture[str], pipeline_file: Path) -> None:
    code, _, err = invoke(capsys, f"{pipeline_file}:etl")
    assert code == 2
    assert "has no attribute 'etl'" in err
    assert "double, explode, failing, opaque, pipeline, unencodable" in err


def test_not_a_pipeline(capsys: pytest.CaptureFixture[str], pipeline_file: Path) -> None:
    code, _, err = invoke(capsys, f"{pipeline_file}:number")
    assert code == 2
    assert "is a int, not a pipeline" in err


def test_input_that_is_not_json(capsys: pytest.CaptureFixture[str], pipeline_file: Path) -> None:
    code, _, err = invoke(capsys, str(pipeline_file), "--input", "{oops")
    assert code == 2
    assert "is not JSON" in err


def test_input_file_that_does_not_exist(capsys: pytest.CaptureFixture[str], pipeline_file: Path) -> None:
    code, _, err = invoke(capsys, str(pipeline_file), "--input-file", "nowhere.json")
    assert code == 2
    assert "nowhere.json" in err


@pytest.mark.slow
def test_success_prints_only_the_result(capsys: pytest.CaptureFixture[str], pipeline_file: Path) -> None:
    code, out, _ = invoke(capsys, str(pipeline_file), "--input", "5", "--no-progress", "--workers", "1")
    assert (code, json.loads(out)) == (0, 20)


@pytest.mark.slow
def test_input_file_and_json_output(capsys: pytest.CaptureFixture[str], pipeline_file: Path, tmp_path: Path) -> None:
    (tmp_path / "in.json").write_text("[1, 2]")
    code, out, _ = invoke(capsys, str(pipeline_file), "--input-file", "in.json", "--json", "--workers", "1")
    report = json.loads(out)
    assert (code, report["status"], report["result"]) == (0, "COMPLETED", [1, 2, 1, 2, 1, 2, 1, 2])
    assert report["run_id"]


@pytest.mark.slow
def test_a_task_that_raises(capsys: pytest.CaptureFixture[str], pipeline_file: Path) -> None:
    code, out, err = invoke(capsys, f"{pipeline_file}:failing", "--input", "3", "--no-progress", "--workers", "1")
    assert (code, out) == (1, "")
    assert "ValueError: cannot handle 6" in err
    assert "explode" in err and "step" in err and "run " in err


@pytest.mark.slow
def test_a_result_that_cannot_be_encoded(capsys: pytest.CaptureFixture[str], pipeline_file: Path) -> None:
    code, out, err = invoke(capsys, f"{pipeline_file}:unencodable", "--input", "3", "--no-progress", "--workers", "1")
    assert (code, out) == (3, "")  # data: the result cannot cross SWF
    assert "opaque" in err and "object" in err


@pytest.mark.slow
def test_the_console_script_end_to_end(pipeline_file: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pipeflow", "run", str(pipeline_file), "--input", "1", "--workers", "1"],
        capture_output=True, text=True, timeout=120,
    )
    assert (done.returncode, done.stdout) == (0, "4\n")
    assert "steps" in done.stderr  # the progress line


def test_a_finished_run_leaves_no_log_for_the_next_run_to_replay(pipeline_file: Path) -> None:
    """A clean close folds the log: the next `pipeflow run` here opens a snapshot, not the last run's calls."""
    import sqlite3

    from pipeflow.engine import Engine

    for expected in ("28", "28"):
        done = subprocess.run([sys.executable, "-m", "pipeflow", "run", f"{pipeline_file}:pipeline", "--input", "7",
                               "--no-progress"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == expected
        db = Path(".pipeflow/state.sqlite")
        con = sqlite3.connect(db)
        try:
            assert con.execute("SELECT count(*) FROM log").fetchone() == (0,)
        finally:
            con.close()
    with Engine(db=db, poll_timeout=0.05) as engine:
        assert engine.held_runs == 0  # both runs are in their rows, read when named
        c = engine.client()
        closed = c.list_closed_workflow_executions(domain="pipeflow", startTimeFilter={"oldestDate": 0})
        assert [info["closeStatus"] for info in closed["executionInfos"]] == ["COMPLETED", "COMPLETED"]


def test_the_console_script_leaves_its_objects_to_the_exit_and_a_call_with_arguments_does_not() -> None:
    """`pipeflow ...` as a process freezes the collector's objects before it exits; main(argv) in a caller does not."""
    script = ("import atexit, gc, sys\n"
              "from pipeflow.cli import main\n"
              "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0))\n"
              "sys.argv = ['pipeflow', '--help']\n"
              "main({argv})\n")
    for argv, frozen in (("", "True"), ("['--help']", "False")):
        done = subprocess.run([sys.executable, "-c", script.format(argv=argv)], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().splitlines()[-1] == f"frozen {frozen}", done.stdout
