"""`pipeflow resume` and `@pf.task(cache=True)` through the real command, on the embedded engine and on `pipeflow server`."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
import uuid
from pathlib import Path

import boto3
import pytest

from pipeflow.cli import main

# Four top-level steps; `pad` is a map whose results (100 x ~400 characters) make a checkpoint
# over 32,768 characters: offloaded, and read back when the run is resumed. `three` fails until
# the file `fixed` exists. Every call appends the task's name to calls.txt.
PIPELINE = """
import pathlib
import pipeflow as pf

HERE = pathlib.Path(__file__).parent


def _count(name):
    with open(HERE / "calls.txt", "a") as fh:
        fh.write(name + "\\n")


@pf.task
def one(n):
    _count("one")
    return list(range(n))


@pf.task
def pad(i):
    _count("pad")
    return f"{i:04d}" + "p" * 400


@pf.task
def three(items):
    _count("three")
    if not (HERE / "fixed").exists():
        raise RuntimeError("not fixed yet")
    return [len(items), sum(int(s[:4]) for s in items)]


@pf.task
def four(pair):
    _count("four")
    return {"count": pair[0], "total": pair[1]}


@pf.task(cache=True)
def slow_square(x):
    _count("slow_square")
    return x * x


@pf.task
def plus_one(x):
    return x + 1


pipeline = pf.chain(one, pf.map(pad), three, four)
cached = pf.chain(slow_square, plus_one)
"""


@pytest.fixture()
def pipeline_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Path:
    monkeypatch.chdir(tmp_path)
    # a distinct module name per test: the loader registers modules by file stem
    path = tmp_path / f"resume_{request.node.name.replace('[', '_').replace(']', '').replace('-', '_')}.py"
    path.write_text(textwrap.dedent(PIPELINE))
    return path


def invoke(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return int(info.value.code or 0), out, err


def calls(directory: Path) -> list[str]:
    path = directory / "calls.txt"
    return path.read_text().split() if path.exists() else []


def failed_run_id(err: str) -> str:
    match = re.search(r"\(run ([^)\s]+)\)", err)
    assert match, err
    return match.group(1)


EXPECTED = {"count": 100, "total": sum(range(100))}


@pytest.mark.slow
def test_resume_runs_only_the_steps_after_the_checkpoints(capsys: pytest.CaptureFixture[str], pipeline_file: Path,
                                                          tmp_path: Path) -> None:
    code, out, err = invoke(capsys, "run", str(pipeline_file), "--input", "100", "--no-progress", "--workers", "2")
    assert (code, out) == (1, "")
    assert "RuntimeError: not fixed yet" in err
    first = failed_run_id(err)
    assert sorted(set(calls(tmp_path))) == ["one", "pad", "three"] and calls(tmp_path).count("pad") == 100

    (tmp_path / "fixed").touch()
    (tmp_path / "calls.txt").unlink()
    # RUN alone: the file the run recorded is only a hint, never loaded.
    code, out, err = invoke(capsys, "resume", first, "--no-progress")
    assert (code, out) == (2, "") and "name the pipeline file" in err and f"started from {pipeline_file}" in err
    assert calls(tmp_path) == []
    code, out, _ = invoke(capsys, "resume", str(pipeline_file), first, "--no-progress", "--workers", "2", "--json")
    report = json.loads(out)
    assert (code, report["result"]) == (0, EXPECTED)
    assert calls(tmp_path) == ["three", "four"]  # steps 1 and 2 (the 100 pads) came from the checkpoints
    assert report["run_id"] != first

    # --from re-runs from that step onward (here on the same failed run, naming the file too).
    (tmp_path / "calls.txt").unlink()
    code, out, _ = invoke(capsys, "resume", str(pipeline_file), first, "--from", "1", "--no-progress", "--workers", "2")
    assert (code, json.loads(out)) == (0, EXPECTED)
    assert sorted(set(calls(tmp_path))) == ["four", "pad", "three"] and calls(tmp_path).count("pad") == 100

    # A completed run resumed from a task's name: the resumed run's own checkpoints serve, even once
    # the first run's folder is gone (`pipeflow gc`): what a resumed run reads is copied into its own.
    payloads = tmp_path / ".pipeflow" / "payloads"
    [old_folder] = [p for p in payloads.iterdir() if p.name.startswith(first_workflow(payloads, report))]
    shutil.rmtree(old_folder)
    (tmp_path / "calls.txt").unlink()
    code, out, _ = invoke(capsys, "resume", str(pipeline_file), report["workflow_id"], "--from", "three",
                          "--no-progress", "--workers", "1")
    assert (code, json.loads(out)) == (0, EXPECTED)
    assert calls(tmp_path) == ["three", "four"]


def first_workflow(payloads: Path, report: dict[str, str]) -> str:
    """The folder of the run that failed: the oldest manifest, not the resumed run's."""
    manifests = sorted(payloads.glob("*/pipeflow-run.json"), key=lambda p: json.loads(p.read_text())["created"])
    assert manifests[0].parent.name != report["workflow_id"]
    return manifests[0].parent.name


def test_resume_mistakes_are_one_line_errors(capsys: pytest.CaptureFixture[str], pipeline_file: Path) -> None:
    code, _, err = invoke(capsys, "resume", "no-such-run")
    assert code == 2 and "no run 'no-such-run'" in err and "state.sqlite" in err
    code, _, err = invoke(capsys, "resume", "a", "b", "c")
    assert code == 2 and "FILE[:ATTR] RUN" in err
    code, _, err = invoke(capsys, "resume", "x", "--backend", "swf")
    assert code == 2 and "--domain" in err


@pytest.mark.slow
def test_resume_an_unknown_run_and_a_completed_run(capsys: pytest.CaptureFixture[str], pipeline_file: Path,
                                                   tmp_path: Path) -> None:
    code, out, _ = invoke(capsys, "run", f"{pipeline_file}:cached", "--input", "7", "--no-progress", "--workers", "1",
                          "--json")
    run_id = json.loads(out)["run_id"]
    code, _, err = invoke(capsys, "resume", "no-such-run")
    assert code == 2 and "no run 'no-such-run' in domain 'pipeflow'" in err
    code, _, err = invoke(capsys, "resume", run_id)
    assert code == 2 and "completed: nothing to resume" in err and "--from" in err
    code, _, err = invoke(capsys, "resume", str(pipeline_file), run_id, "--from", "nine")
    assert code == 2 and "no top-level step has that path or task name" in err


@pytest.mark.slow
def test_a_cached_task_runs_once_over_two_runs(capsys: pytest.CaptureFixture[str], pipeline_file: Path,
                                               tmp_path: Path) -> None:
    for _ in range(2):
        code, out, _ = invoke(capsys, "run", f"{pipeline_file}:cached", "--input", "12", "--no-progress",
                              "--workers", "1")
        assert (code, json.loads(out)) == (0, 145)
    assert calls(tmp_path) == ["slow_square"]
    code, out, _ = invoke(capsys, "run", f"{pipeline_file}:cached", "--input", "3", "--no-progress", "--workers", "1")
    assert (code, json.loads(out)) == (0, 10)
    assert calls(tmp_path) == ["slow_square", "slow_square"]  # another input: another entry
    entries = [p for p in (tmp_path / ".pipeflow" / "payloads" / "cache").iterdir() if p.is_file()]
    assert len(entries) == 2


@pytest.mark.slow
def test_resume_on_swf_through_boto3_against_pipeflow_server(capsys: pytest.CaptureFixture[str], pipeflow_url: str,
                                                             pipeline_file: Path, tmp_path: Path) -> None:
    domain = f"test-{uuid.uuid4().hex[:12]}"
    swf_args = ["--backend", "swf", "--domain", domain, "--endpoint-url", pipeflow_url]
    code, out, err = invoke(capsys, "run", str(pipeline_file), "--input", "100", "--no-progress", "--workers", "2",
                            *swf_args)
    assert (code, out) == (1, "")
    first = failed_run_id(err)
    (tmp_path / "fixed").touch()
    (tmp_path / "calls.txt").unlink()
    code, out, _ = invoke(capsys, "resume", str(pipeline_file), first, "--no-progress", "--workers", "2", "--json",
                          *swf_args)
    report = json.loads(out)
    assert (code, report["result"]) == (0, EXPECTED)
    assert calls(tmp_path) == ["three", "four"]
    # The new run's history holds the checkpoints again (steps 0 and 1 resumed, then 2), step 1's offloaded.
    swf = boto3.client("swf", endpoint_url=pipeflow_url, region_name="us-east-1")
    events = swf.get_workflow_execution_history(
        domain=domain, execution={"workflowId": report["workflow_id"], "runId": report["run_id"]})["events"]
    docs = [json.loads(e["markerRecordedEventAttributes"]["details"]) for e in events
            if e["eventType"] == "MarkerRecorded"
            and e["markerRecordedEventAttributes"]["markerName"] == "pipeflow.checkpoint"]
    assert [d["step"] for d in docs] == ["0", "1", "2"]
    assert set(docs[1]["result"]) == {"offloaded"}
    assert not any(e["eventType"] == "ActivityTaskScheduled" and
                   e["activityTaskScheduledEventAttributes"]["activityType"]["name"].endswith((".one", ".pad"))
                   for e in events)


# -- resume runs only code the user names (issue 12, case 8) ---------------------------------------------


def forged_run(tmp_path: Path, pipeline_file: Path, doc: dict[str, object]) -> str:
    """A closed run of the file's pipeline whose input document is `doc`, as anyone who can start a run writes it."""
    from pipeflow import running
    from pipeflow._loader import load_pipeline
    from pipeflow.engine import Engine
    from pipeflow.running import _embedded

    (tmp_path / ".pipeflow").mkdir(exist_ok=True)
    definition = _embedded._definition(load_pipeline(str(pipeline_file)))
    with Engine(db=str(tmp_path / ".pipeflow" / "state.sqlite")) as engine:
        swf = engine.client()
        running.register(swf, running.DOMAIN, definition)
        run_id = swf.start_workflow_execution(
            domain=running.DOMAIN, workflowId="forged", workflowType={"name": definition.name, "version": "1"},
            taskList={"name": definition.task_list}, input=json.dumps(doc))["runId"]
        swf.terminate_workflow_execution(domain=running.DOMAIN, workflowId="forged", runId=run_id, reason="closed")
    return str(run_id)


def test_resume_never_loads_the_file_a_run_names(capsys: pytest.CaptureFixture[str], pipeline_file: Path,
                                                 tmp_path: Path) -> None:
    evil = tmp_path / "evil.py"
    evil.write_text("import pathlib\npathlib.Path(__file__).with_name('owned').touch()\n")
    run_id = forged_run(tmp_path, pipeline_file, {"v": 1, "input": "json/1:1", "store": None, "source": str(evil)})
    code, out, err = invoke(capsys, "resume", run_id)
    assert (code, out) == (2, "")
    assert "name the pipeline file" in err and f"started from {evil}" in err
    assert not (tmp_path / "owned").exists()  # the recorded file was not executed


def test_a_run_whose_store_is_not_ours_is_not_resumed(capsys: pytest.CaptureFixture[str], pipeline_file: Path,
                                                      tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    run_id = forged_run(tmp_path, pipeline_file, {"v": 1, "input": "json/1:1", "store": elsewhere.as_uri()})
    code, out, err = invoke(capsys, "resume", str(pipeline_file), run_id)
    assert (code, out) == (2, "") and "is not this command's store" in err and "--store" in err
    assert not elsewhere.exists()


@pytest.mark.slow
def test_a_changed_pipeline_file_is_refused_unless_allowed(capsys: pytest.CaptureFixture[str], pipeline_file: Path,
                                                           tmp_path: Path) -> None:
    code, out, err = invoke(capsys, "run", str(pipeline_file), "--input", "3", "--no-progress", "--workers", "1")
    assert (code, out) == (1, "")
    first = failed_run_id(err)
    (tmp_path / "fixed").touch()
    pipeline_file.write_text(pipeline_file.read_text() + "\n# changed since the run started\n")
    code, out, err = invoke(capsys, "resume", str(pipeline_file), first, "--no-progress")
    assert (code, out) == (2, "")
    assert f"is not the file run {first} was started from" in err and "--allow-changed" in err
    code, out, _ = invoke(capsys, "resume", str(pipeline_file), first, "--allow-changed", "--no-progress",
                          "--workers", "1")
    assert (code, json.loads(out)) == (0, {"count": 3, "total": 3})
