"""`@pf.task(cache=True)`: results reused by content hash, kept in `<root>/cache/`, out of `pipeflow gc`'s reach."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import converters
import pipeflow as pf
from pipeflow import wire
from pipeflow.running import collect
from pipeflow.worker._cache import cache_key
from pipeflow.worker._execute import execute

CALLS: list[Any] = []


@pf.task(cache=True)
def big(n: int, fill: str = "x") -> str:
    CALLS.append(n)
    return fill * n


@pf.task
def uncached(n: int) -> int:
    CALLS.append(n)
    return n


def activity(root: str, workflow_id: str, piped: Any, *, step: str = "0", attempt: int = 1,
             kwargs: dict[str, str] | None = None) -> tuple[str, str]:
    """An activity input of run `workflow_id` (its piped value offloaded there when large), and the run's store."""
    scope = wire.run_scope(root, workflow_id, "run-1")
    assert scope is not None
    tree = converters.dumps(piped, store=scope, threshold=100)
    data = wire.encode_activity_input(step=step, attempt=attempt, task=big.name, store=scope, piped=tree,
                                       args=[], kwargs=kwargs or {})
    return data, scope


def test_the_key_ignores_run_step_attempt_and_where_references_point(tmp_path: Path) -> None:
    root = converters.open_store(str(tmp_path)).uri
    a, store_a = activity(root, "wf-a", list(range(200)))
    b, store_b = activity(root, "wf-b", list(range(200)), step="3.map.7", attempt=2)
    assert "wf-a" in a and "wf-b" in b  # the references name their runs
    assert cache_key(big, a, store_a) == cache_key(big, b, store_b)
    c, store_c = activity(root, "wf-c", list(range(201)))
    d, store_d = activity(root, "wf-d", list(range(200)), kwargs={"fill": converters.dumps("y")})
    keys = {cache_key(big, a, store_a), cache_key(big, c, store_c), cache_key(big, d, store_d),
            cache_key(uncached, a, store_a)}
    assert len(keys) == 4
    assert cache_key(big, a, None) is None  # no store, no cache


def test_a_hit_survives_gc_of_the_run_that_made_it(tmp_path: Path) -> None:
    root = converters.open_store(str(tmp_path)).uri
    CALLS.clear()
    first, store = activity(root, "wf-first", 50_000)
    wire.write_manifest(root, domain="pipeflow", workflow_id="wf-first", workflow_type={"name": "p", "version": "1"})
    outcome = execute(big, "0#1", first, store)
    assert outcome[0] == "ok" and converters.is_reference(outcome[1]) and "wf-first" in outcome[1]
    assert CALLS == [50_000]
    report = collect(converters.open_store(root), "pipeflow", set(), time.time() + 3600)
    assert report.removed == ["wf-first"] and report.left_alone == 1  # the cache folder: no manifest
    assert not (tmp_path / "wf-first").exists()

    second, store2 = activity(root, "wf-second", 50_000, step="2", attempt=3)
    hit = execute(big, "2#3", second, store2)
    assert CALLS == [50_000]  # not called again
    assert hit[0] == "ok" and "/cache/objects/" in hit[1]
    assert converters.loads(hit[1], store=store2) == "x" * 50_000

    third, store3 = activity(root, "wf-third", 7)
    assert converters.loads(execute(big, "0#1", third, store3)[1]) == "x" * 7
    assert CALLS == [50_000, 7]  # another input: a miss


def test_failures_and_uncached_tasks_are_not_kept(tmp_path: Path) -> None:
    root = converters.open_store(str(tmp_path)).uri
    CALLS.clear()
    data, store = activity(root, "wf", 5)
    assert execute(uncached, "0#1", data, store)[0] == "ok"
    assert execute(uncached, "0#1", data, store)[0] == "ok"
    assert CALLS == [5, 5] and not (tmp_path / "cache").exists()
    bad = wire.encode_activity_input(step="0", attempt=1, task=big.name, store=store,
                                      piped=converters.dumps("not a number"), args=[], kwargs={})
    assert execute(big, "0#1", bad, store)[0] == "fail"
    assert not (tmp_path / "cache").exists()
