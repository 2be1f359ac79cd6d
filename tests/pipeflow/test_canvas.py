"""The canvas tree, pipelines and their names."""

from __future__ import annotations

import pytest

import pipeflow as pf
from pipeflow._pipeline import as_pipeline
from pipeflow.canvas import Chain, Group, Map, iter_tasks


@pf.task
def a(x: int) -> int:
    return x


@pf.task
def b(x: int) -> int:
    return x


def test_nesting_builds_an_immutable_tree() -> None:
    canvas = pf.chain(a, pf.group(b.s(1), pf.chain(a, pf.map(b, max_parallel=4)), return_exceptions=True))
    assert isinstance(canvas, Chain) and len(canvas.steps) == 2
    inner = canvas.steps[1]
    assert isinstance(inner, Group) and inner.return_exceptions
    deep = inner.steps[1]
    assert isinstance(deep, Chain)
    mapped = deep.steps[1]
    assert isinstance(mapped, Map) and mapped.step is b and mapped.max_parallel == 4
    with pytest.raises(AttributeError):
        canvas.steps = ()  # type: ignore[misc]


def test_iter_tasks_yields_each_task_once_in_order() -> None:
    canvas = pf.chain(a, pf.group(b.s(1), pf.chain(a, pf.map(b))))
    assert list(iter_tasks(canvas)) == [a, b]
    assert list(iter_tasks(pf.Pipeline(canvas, name="p"))) == [a, b]


@pytest.mark.parametrize("make", [lambda: pf.chain(), lambda: pf.group(), lambda: pf.chain(a, 3),
                                  lambda: pf.map(a, max_parallel=0)])
def test_bad_canvases_are_pipeline_errors(make: object) -> None:
    with pytest.raises(pf.PipelineError):
        make()  # type: ignore[operator]


def test_pipeline_wraps_the_root_in_a_chain() -> None:
    p = pf.Pipeline(a, name="p", version=2, timeout=600)
    assert isinstance(p.canvas, Chain) and p.canvas.steps == (a,)
    assert (p.name, p.version, p.timeout, p.task_list) == ("p", "2", 600, "p")
    chain = pf.chain(a, b)
    assert pf.Pipeline(chain, name="q").canvas is chain


def test_bare_canvas_names() -> None:
    canvas = pf.chain(a, b)
    assert as_pipeline(canvas, attr="etl").name == "test_canvas.etl"
    # Without an attribute the name is stable: a hash of the canvas shape.
    assert as_pipeline(canvas).name == as_pipeline(pf.chain(a, b)).name != as_pipeline(pf.chain(b, a)).name
    p = pf.Pipeline(canvas, name="p")
    assert as_pipeline(p) is p
    with pytest.raises(pf.PipelineError):
        as_pipeline(42)
