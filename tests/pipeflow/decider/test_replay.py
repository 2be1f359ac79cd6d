"""Replay determinism: a decider rebuilding from the whole history decides as the cached one."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import pipeflow as pf
from pipeflow import wire
from pipeflow._pipeline import Pipeline
from pipeflow.canvas import Chain, Group, Map, Step
from pipeflow.decider import Decider
from pipeflow.decider._simulate import Simulation
from pipeflow.task import Signature, Task

from .tasks import add, boom, inc, total


@pf.task(retries=2, retry_delay=0)
def fails_on_odd_attempt_seed(x: Any) -> Any:
    # Deterministic per input, so the simulated outcome does not depend on delivery order.
    if isinstance(x, int) and x % 3 == 0:
        raise RuntimeError("multiple of three")
    return x


@pf.task(retries=1, retry_delay=1.5)
def retried(x: Any) -> Any:
    if isinstance(x, int) and x % 2 == 0:
        raise RuntimeError("even")
    return x


LEAVES: list[Step] = [inc, add.s(2), inc.si(5), fails_on_odd_attempt_seed, retried, boom]

# A step that takes and returns an int, except `map`s, which are wrapped to give an int back.
steps = st.recursive(
    st.sampled_from(LEAVES),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=4).map(lambda s: pf.chain(*s)),
        st.tuples(st.lists(inner, min_size=1, max_size=4), st.booleans()).map(
            lambda a: pf.chain(pf.group(*a[0], return_exceptions=a[1]), total_ok)),
        st.tuples(inner, st.sampled_from([None, 1, 2])).map(
            lambda a: pf.chain(upto_small, pf.map(a[0], max_parallel=a[1]), total_ok)),
    ),
    max_leaves=12,
)


@pf.task
def total_ok(xs: list[Any]) -> int:
    return sum(x for x in xs if isinstance(x, int))


@pf.task
def upto_small(x: int) -> list[int]:
    return list(range(x % 4))


def evaluate(step: Step, x: Any) -> Any:
    """The reference: what the canvas means, by calling the functions directly (raises on failure)."""
    if isinstance(step, Signature):
        kwargs = dict(step.kwargs)
        return step.task.fn(*step.args, **kwargs) if step.immutable else step.task.fn(x, *step.args, **kwargs)
    if isinstance(step, Task):
        return step.fn(x)
    if isinstance(step, Chain):
        for s in step.steps:
            x = evaluate(s, x)
        return x
    if isinstance(step, Group):
        results = []
        for s in step.steps:
            try:
                results.append(evaluate(s, x))
            except Exception as exc:
                if not step.return_exceptions:
                    raise
                results.append(exc)
        return results
    assert isinstance(step, Map)
    return [evaluate(step.step, item) for item in x]


def _drive(canvas: Step, seed: int, batch: int) -> Simulation:
    pipeline = Pipeline(canvas, name="prop")
    sim = Simulation(pipeline, input=seed % 7, rng=random.Random(seed), batch=batch, run_id=f"run-{seed}")
    cached = Decider([pipeline])
    for _ in range(10_000):
        task = sim.poll()
        new = task["events"][cached.last_event_id(sim.run_id):]
        decisions = cached.decide({**task, "events": new})
        cold = Decider([pipeline]).decide(task)
        assert decisions == cold
        sim.respond(decisions)
        if sim.closed is not None or not sim.deliver():
            break
    assert sim.closed is not None
    try:
        expected: Any = evaluate(canvas, seed % 7)
    except Exception as exc:
        expected = (type(exc).__name__, str(exc))
    try:
        actual: Any = wire.decode_close_event(sim.closed)
    except pf.TaskFailed as failed:
        actual = (failed.error_type, failed.args[0])
    assert actual == expected
    return sim


@settings(max_examples=150, deadline=None)
@given(steps, st.integers(0, 10_000), st.sampled_from([1, 2, 1000]))
def test_cold_replay_decides_as_the_cached_decider(canvas: Step, seed: int, batch: int) -> None:
    _drive(canvas, seed, batch)


def test_the_same_run_gives_the_same_history() -> None:
    canvas = pf.chain(upto_small, pf.map(pf.chain(inc, retried)), total)
    a = _drive(pf.group(canvas, canvas), 3, 1)
    b = _drive(pf.group(canvas, canvas), 3, 1)
    assert a.events == b.events
