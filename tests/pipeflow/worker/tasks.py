"""Tasks for the worker tests; module level so spawned worker processes import them."""

from __future__ import annotations

import os
import time

import pipeflow as pf


@pf.task
def inc(x: int) -> int:
    return x + 1


@pf.task
def pid_after(seconds: float) -> int:
    """Sleeps, reporting progress, then returns the id of the process it ran in."""
    pf.progress(0, 1, "sleeping")
    time.sleep(seconds)
    return os.getpid()


@pf.task
def fail(x: int) -> int:
    raise KeyError(x)


@pf.task
def burn(n: int) -> float:
    """CPU-bound: wall time of a pure-Python loop, measured inside the task."""
    start = time.perf_counter()
    total = 0
    for i in range(n):
        total += i * i
    return time.perf_counter() - start
