"""`pipeflow gc`: the folders of runs closed before the cutoff go; open, recent and foreign ones stay."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

import converters
import pipeflow as pf
from pipeflow import wire
from pipeflow.cli import main
from pipeflow.engine import Engine
from pipeflow.running import PAYLOADS, STATE_DB, _gc, parse_age, run_embedded

BIG = 50_000  # characters: offloaded
DAY = 86_400.0
WORKFLOW = {"name": "gc-test", "version": "1"}


@pf.task
def grow(text: str) -> str:
    return text + "y" * BIG


def gc(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`pipeflow gc ARGS` in this process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        main(["gc", *args])
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def manifest(store: converters.Store, workflow_id: str, *, domain: str, age: float) -> None:
    doc = {"v": 1, "domain": domain, "workflowId": workflow_id, "workflowType": WORKFLOW, "created": time.time() - age}
    store.put(f"{workflow_id}/{wire.MANIFEST}", json.dumps(doc).encode())


def folders(store: converters.Store) -> set[str]:
    return {info.key.partition("/")[0] for info in store.walk() if "/" in info.key}


def build(store: converters.Store, domain: str) -> None:
    """Folders of every kind: runs known to the engine, unknown ones, another domain's, and strangers."""
    for workflow_id in ("wf-open", "wf-closed", "wf-gone"):
        manifest(store, workflow_id, domain=domain, age=10 * DAY)
        store.child(workflow_id, "run-1").put("a" * 64, b"x" * 100)
    manifest(store, "wf-fresh", domain=domain, age=0)  # being started: not listed yet
    manifest(store, "wf-other", domain="elsewhere", age=10 * DAY)
    store.put("not-ours/data", b"keep me")
    store.put("loose-object", b"keep me too")


def start_runs(swf: Any, domain: str) -> None:
    """wf-open stays open; wf-closed is closed now (terminated)."""
    swf.register_workflow_type(
        domain=domain, **WORKFLOW, defaultTaskList={"name": "gc"}, defaultChildPolicy="TERMINATE",
        defaultExecutionStartToCloseTimeout="600", defaultTaskStartToCloseTimeout="60",
    )
    for workflow_id in ("wf-open", "wf-closed"):
        swf.start_workflow_execution(domain=domain, workflowId=workflow_id, workflowType=WORKFLOW)
    swf.terminate_workflow_execution(domain=domain, workflowId="wf-closed")


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("30m", 1800), ("12h", 43_200), ("7d", 7 * DAY),
                                           ("2w", 14 * DAY), ("1.5h", 5400), ("0s", 0), ("0d", 0)])
def test_ages(text: str, seconds: float) -> None:
    assert parse_age(text) == seconds


@pytest.mark.parametrize("text", ["7", "7x", "-1d", "d", "7 days", ""])
def test_a_bad_age_is_a_usage_error(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gc(capsys, "--older-than", text)
    assert (code, out) == (2, "")
    assert "--older-than" in err and "90s, 30m, 12h, 7d or 2w" in err and "Traceback" not in err


@pytest.mark.parametrize("args, message", [
    (["--backend", "swf", "--s3-bucket", "b"], "--backend swf needs --domain"),
    (["--backend", "swf", "--domain", "d"], "--backend swf needs --store URI or --s3-bucket"),
    (["--domain", "d"], "go with --backend swf"),
    (["--store", "memory://x#wf"], "names a scope"),
])
def test_flags_that_do_not_go_together(args: list[str], message: str, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIPEFLOW_STORE", raising=False)
    code, _, err = gc(capsys, "--older-than", "7d", *args)
    assert code == 2 and message in err


def test_embedded_keeps_open_recent_and_foreign_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PIPEFLOW_STORE", raising=False)
    monkeypatch.setattr(_gc, "PAGE", 1)  # every listing takes several pages
    PAYLOADS.mkdir(parents=True)
    root = str(PAYLOADS.resolve())
    real = run_embedded(pf.chain(grow), "x", store=root, workers=1, db=str(STATE_DB))  # closed just now
    with Engine(db=str(STATE_DB)) as engine:
        start_runs(engine.client(), "pipeflow")
    store = converters.open_store(root)
    build(store, "pipeflow")
    everything = {info.key for info in store.walk()}

    code, out, err = gc(capsys, "--older-than", "7d", "--dry-run")
    assert code == 0 and out.splitlines() == [store.child("wf-gone").uri]
    assert "would remove 2 objects (" in err
    assert {info.key for info in store.walk()} == everything  # a dry run removes nothing

    code, out, err = gc(capsys, "--older-than", "7d")
    assert (code, out) == (0, "")
    assert folders(store) == {real.workflow_id, "wf-open", "wf-closed", "wf-fresh", "wf-other", "not-ours"}
    assert "removed 2 objects (" in err and "of 1 run;" in err and "kept 4 runs" in err
    assert "left 2 folders alone" in err and "1 object outside any run folder" in err

    time.sleep(1.1)  # now the real run and wf-closed closed, and wf-fresh was created, over 1 s ago
    code, _, err = gc(capsys, "--older-than", "1s")
    assert code == 0 and "of 3 runs;" in err and "kept 1 run " in err
    assert folders(store) == {"wf-open", "wf-other", "not-ours"}
    assert store.exists("loose-object") and (PAYLOADS / "wf-open" / "run-1").is_dir()
    assert not (PAYLOADS / real.workflow_id).exists()


def test_embedded_without_state_has_no_open_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PIPEFLOW_STORE", raising=False)
    store = converters.LocalStore(tmp_path / "elsewhere")
    build(store, "pipeflow")
    code, _, err = gc(capsys, "--older-than", "7d", "--store", str(tmp_path / "elsewhere"))
    assert code == 0 and "no engine state at .pipeflow/state.sqlite: no run is open" in err
    assert folders(store) == {"wf-fresh", "wf-other", "not-ours"}
    assert not STATE_DB.exists()  # gc does not create the state


@pytest.mark.slow
def test_swf_on_moto_with_s3(moto_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from botocore.config import Config

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_url)
    swf = boto3.client("swf", endpoint_url=moto_url, config=Config(retries={"total_max_attempts": 1}))
    swf.register_domain(name="gc-domain", workflowExecutionRetentionPeriodInDays="1")
    start_runs(swf, "gc-domain")
    s3 = boto3.client("s3", endpoint_url=moto_url)
    s3.create_bucket(Bucket="runs")
    store = converters.open_store("s3://runs/pre")
    build(store, "gc-domain")
    swf_args = ["--backend", "swf", "--domain", "gc-domain", "--s3-bucket", "runs/pre", "--endpoint-url", moto_url]

    code, out, err = gc(capsys, "--older-than", "7d", "--dry-run", *swf_args)
    assert code == 0 and out.splitlines() == ["s3://runs/pre/wf-gone"], err

    code, _, err = gc(capsys, "--older-than", "7d", *swf_args)
    assert code == 0 and "removed 2 objects (" in err and "of 1 run;" in err, err
    assert folders(store) == {"wf-open", "wf-closed", "wf-fresh", "wf-other", "not-ours"}

    time.sleep(1.1)  # moto ignores the list filters: gc must read closeTimestamp itself
    code, _, err = gc(capsys, "--older-than", "1s", *swf_args)
    assert code == 0 and "of 2 runs;" in err and "kept 1 run " in err, err
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="runs")["Contents"])
    assert keys == ["pre/loose-object", "pre/not-ours/data", f"pre/wf-open/{wire.MANIFEST}",
                    f"pre/wf-open/run-1/{'a' * 64}", f"pre/wf-other/{wire.MANIFEST}"]

    code, _, err = gc(capsys, "--older-than", "1s", *swf_args[:2], "--domain", "no-such-domain", *swf_args[4:])
    assert code == 2 and "UnknownResourceFault" in err  # an unknown domain: a usage error, as an unknown run
    code, _, err = gc(capsys, "--older-than", "1s", *swf_args[:4], "--s3-bucket", "no-such-bucket", *swf_args[6:])
    assert code == 3 and "cannot list s3://no-such-bucket" in err
