"""Where a run's payloads go: `<root>/<workflowId>/<runKey>/`, the input under `input/`, a manifest beside them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import converters
import pipeflow as pf
from pipeflow import wire
from pipeflow.running import run_embedded

BIG = 50_000  # characters: over SWF's 32,768 limit, so offloaded


@pf.task
def grow(text: str) -> str:
    return text + "y" * BIG


@pf.task
def size(text: str) -> int:
    return len(text)


@pf.task
def explode(text: str) -> None:
    raise ValueError("z" * BIG)


def test_objects_of_a_run_live_under_its_workflow_and_run(tmp_path: Path) -> None:
    outcome = run_embedded(pf.chain(grow, pf.group(size, size)), "x" * BIG, store=str(tmp_path), workers=1)
    assert outcome.result == [2 * BIG, 2 * BIG]
    folder = tmp_path / outcome.workflow_id
    manifest = json.loads((folder / wire.MANIFEST).read_text())
    assert manifest["domain"] == "pipeflow" and manifest["workflowId"] == outcome.workflow_id
    assert manifest["workflowType"]["name"].endswith(".pipeline-" + manifest["workflowType"]["name"][-10:])
    # the input (by the starter, before the run had an id) and grow's result (by the worker)
    assert len(list((folder / "input").iterdir())) == 1
    run_files = list((folder / wire.run_key(outcome.run_id)).iterdir())
    assert len(run_files) == 1 and run_files[0].stat().st_size > BIG
    everything = {p.relative_to(tmp_path).parts[0] for p in tmp_path.rglob("*") if p.is_file()}
    assert everything == {outcome.workflow_id}


def test_long_failure_details_go_under_the_run(tmp_path: Path) -> None:
    with pytest.raises(pf.TaskFailed) as info:
        run_embedded(pf.chain(explode), "x", store=str(tmp_path), workers=1)
    assert info.value.args[0].endswith("z" * 100)  # read back whole from the store
    run_id = info.value.run_id
    assert run_id is not None
    folders = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(folders) == 1
    assert any((folders[0] / wire.run_key(run_id)).iterdir())


def test_run_keys_are_one_path_segment() -> None:
    assert wire.run_key("ab/cd+ef==") == "ab_cd-ef=="
    scope = wire.run_scope("memory://layout", "wf-1", "a/b+c=")
    assert scope == "memory://layout#wf-1/a_b-c="
    assert wire.run_scope("memory://layout", "wf-1") == "memory://layout#wf-1/input"
    assert wire.run_scope(None, "wf-1", "r") is None


def test_a_worker_refuses_a_run_whose_store_has_another_root() -> None:
    text = wire.encode_activity_input(step="1", attempt=1, task="t", store="memory://theirs#wf/run", piped=None,
                                       args=[converters.dumps(1)], kwargs={})
    with pytest.raises(converters.StoreError, match="is not this worker's store memory://mine"):
        wire.decode_activity_input(text, store="memory://mine#wf/run")
    args, _, store = wire.decode_activity_input(text, store="memory://theirs#wf/other")
    assert args == [1] and store == "memory://theirs#wf/run"
