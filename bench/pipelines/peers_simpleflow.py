"""bench/pipelines/peers.py for simpleflow 0.36's local executor (`simpleflow workflow.start --local`).

Runs under an interpreter that finds simpleflow (bench/peers.py installs it in a cache folder and
puts it and this folder on PYTHONPATH); pipeflow is not imported. Each workflow prints its result,
which simpleflow's local executor does not, so the bench can check it.
"""

from __future__ import annotations

from typing import Any

from simpleflow import Workflow, activity, futures  # type: ignore[import-not-found]
from simpleflow.canvas import Chain  # type: ignore[import-not-found]
from simpleflow.task import ActivityTask  # type: ignore[import-not-found]

TIMEOUTS: dict[str, Any] = dict(start_to_close_timeout=300, schedule_to_close_timeout=600,
                                schedule_to_start_timeout=600, heartbeat_timeout=300)


@activity.with_attributes(task_list="peers", version="1", raises_on_failure=True, **TIMEOUTS)  # type: ignore[misc]
def inc(x: int) -> int:
    return x + 1


@activity.with_attributes(task_list="peers", version="1", raises_on_failure=True, **TIMEOUTS)  # type: ignore[misc]
def total(values: list[int]) -> int:
    return sum(values)


class _Base(Workflow):  # type: ignore[misc]
    version = "1"
    task_list = "peers"
    decision_tasks_timeout = "300"
    execution_timeout = "3600"


class Wide(_Base):
    """A map of inc over the input numbers, summed (the 4,000-wide map)."""

    name = "peers-wide"

    def run(self, numbers: list[int]) -> int:
        mapped = [self.submit(inc, n) for n in numbers]
        futures.wait(*mapped)
        summed = self.submit(total, [f.result for f in mapped])
        print(summed.result)
        return int(summed.result)


class Fanout(Wide):
    """The same over 1,000 numbers."""

    name = "peers-fanout"


class Steps(_Base):
    """100 inc in a chain, from the input."""

    name = "peers-chain"

    def run(self, start: int) -> int:
        chain = self.submit(Chain(ActivityTask(inc, start), *[ActivityTask(inc) for _ in range(99)], send_result=True))
        futures.wait(chain)
        print(chain.result[-1])
        return int(chain.result[-1])
