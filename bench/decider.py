"""Time one decision on synthetic histories: cold (full replay) and incremental (cached run).

Targets: cold replay under 10 us per event; incremental decision time flat in history length
(the 25,000-event case within 1.5x of the 1,000-event case).
Run: .venv/bin/python bench/decider.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

# bench/converters.py would shadow the converters package when this file runs as a script.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import pipeflow as pf
from pipeflow._pipeline import Pipeline
from pipeflow.decider import Decider
from pipeflow.decider._simulate import Simulation


REPEAT = 31


@pf.task
def inc(x: int) -> int:
    return x + 1


def history(target: int) -> tuple[Pipeline, dict[str, Any], int]:
    """A chain of `inc` run until the history holds about `target` events; the last decision task open."""
    pipeline = Pipeline(pf.chain(*[inc] * (target // 6 + 10)), name=f"bench{target}")
    sim = Simulation(pipeline, input=0, batch=1)
    decider = Decider([pipeline])
    given = previous = 0
    while True:
        task = sim.poll(given)
        previous, given = given, len(sim.events)
        if given >= target:
            return pipeline, {**task, "events": sim.events}, previous
        sim.respond(decider.decide(task))
        sim.deliver()


def timed(fn: Any, repeat: int) -> tuple[float, float]:
    """(best, median) wall time of `repeat` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main() -> None:
    base = None
    for target in (1_000, 10_000, 25_000):
        pipeline, task, cut = history(target)
        events = task["events"]
        n = len(events)
        _, cold = timed(lambda: Decider([pipeline]).decide(task), 5)
        # Incremental: deciders that already applied every event but the last decision task's.
        warm = []
        for _ in range(REPEAT + 1):
            decider = Decider([pipeline])
            decider.decide({**task, "events": events[:cut]})
            warm.append(decider)
        new = {**task, "events": events[cut:]}
        expected = Decider([pipeline]).decide(task)
        assert expected and warm.pop().decide(new) == expected, "incremental and cold decisions differ"
        best, median = timed(lambda: warm.pop().decide(new), REPEAT)
        base = base or best
        print(f"{n:>6} events: cold {cold * 1e3:6.2f} ms ({cold / n * 1e6:4.2f} us/event)   "
              f"incremental best {best * 1e6:5.1f} us ({best / base:4.2f}x the 1,000-event case), "
              f"median {median * 1e6:5.1f} us")


if __name__ == "__main__":
    main()
