"""Pipelines for the tags and priorities tests (module level: worker processes import it)."""

from __future__ import annotations

import time
from pathlib import Path

import pipeflow as pf


@pf.task(name="prio.gate")
def gate(x: int) -> int:
    """Holds the single worker of the pipeline's task list while the other steps queue up behind it."""
    time.sleep(0.5)
    return x


@pf.task(name="prio.trigger", task_list="side")
def trigger(x: int) -> int:
    """Done at once by the worker of another task list: what follows it is scheduled while `gate` runs."""
    return x


@pf.task(name="prio.stamp")
def stamp(x: int) -> float:
    """When this step started (each takes a little while, so a single worker runs them one by one)."""
    started = time.time()
    time.sleep(0.1)
    return started


@pf.task(name="prio.urgent", priority=10)
def urgent(x: int) -> float:
    return time.time()


LOWS = 4


def _overtake(late: pf.Task | pf.Signature, name: str) -> pf.Pipeline:
    # `gate` takes the one worker first; the stamps queue behind it; `late` is scheduled after them
    # (once `trigger` is done on its own list), while `gate` still runs.
    return pf.Pipeline(pf.group(gate, pf.chain(trigger, late), *[stamp] * LOWS), name=name)


# The late step by `.options(priority=10)`, or with no priority (the control: it comes last).
overtaking = _overtake(stamp.s().options(priority=10), "prio.overtaking")
in_order = _overtake(stamp, "prio.in_order")
# The late step by `@pf.task(priority=10)`.
overtaking_task = _overtake(urgent, "prio.overtaking_task")

# A stage: its child execution gets the run's tags and priority.
staged = pf.Pipeline(pf.chain(pf.stage(pf.chain(stamp, stamp), name="inner"), stamp), name="prio.staged")
# No stage (moto has no child executions): a step of its own priority, the others the run's.
flat = pf.Pipeline(pf.chain(urgent, stamp), name="prio.flat")


def overtaken(result: list[float]) -> int:
    """How many of the queued low-priority steps started after the late high-priority one."""
    late, lows = result[1], result[2:]
    return sum(1 for low in lows if low > late)


@pf.task(name="prio.fails_once")
def fails_once(marker: str) -> str:
    """Fails the first time (it leaves `marker` behind), then succeeds: a run to resume."""
    if not Path(marker).exists():
        Path(marker).write_text("failed once")
        raise RuntimeError("the first attempt fails")
    return marker


resumable = pf.Pipeline(pf.chain(fails_once), name="prio.resumable")
