"""Small tasks for the end-to-end tests; module level so worker processes can import them."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pipeflow as pf


@pf.task
def inc(x: int) -> int:
    return x + 1


@pf.task
def total(values: list[int]) -> int:
    return sum(values)


@pf.task
def describe(values: list[Any]) -> list[Any]:
    """Each value, or its error's type and message (the slots of a return_exceptions group)."""
    return [f"{type(v).__name__}: {v}" if isinstance(v, Exception) else v for v in values]


@pf.task
def boom(x: Any) -> Any:
    raise ValueError(f"boom on {x!r}")


def _count_attempt(path: str) -> int:
    """Attempts so far, counted in a file: tasks run in other processes."""
    counter = Path(path)
    attempts = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(attempts))
    return attempts


def _flaky(spec: dict[str, Any]) -> int:
    attempts = _count_attempt(spec["counter"])
    if attempts <= spec["fail_times"]:
        raise RuntimeError(f"flaky failure {attempts}")
    return attempts


flaky_retries2 = pf.task(name="flaky_retries2", retries=2, retry_delay=0.05)(_flaky)
flaky_retries1 = pf.task(name="flaky_retries1", retries=1, retry_delay=0.05)(_flaky)


# heartbeat=3: the kill is seen 3 s later, and a loaded machine can stall a beat of attempt 2 for 2 s.
@pf.task(retries=1, retry_delay=0.05, heartbeat=3)
def killable(spec: dict[str, Any]) -> int:
    """First attempt writes its pid and waits to be killed; the second returns at once."""
    attempts = _count_attempt(spec["counter"])
    if attempts == 1:
        Path(spec["pidfile"]).write_text(str(os.getpid()))
        time.sleep(60)
    return attempts


@pf.task(heartbeat=1)
def slow_with_progress(seconds: float) -> str:
    """Outlives its 1 s heartbeat timeout: passes only if the worker heartbeats for it."""
    steps = 10
    for i in range(steps):
        time.sleep(seconds / steps)
        pf.progress(i + 1, steps, "sleeping")
    return "done"


@pf.task(task_list="elsewhere")
def inc_elsewhere(x: int) -> int:
    return x + 1


@pf.task
def unencodable(x: Any) -> Any:
    return object()


chain100 = pf.chain(*[inc] * 100)  # from 0 gives 100
group100 = pf.chain(pf.group(*[inc.si(i) for i in range(100)]), total)  # inc over 0..99 sums to 5050
both = pf.group(chain100, group100)  # [100, 5050]
map100 = pf.chain(pf.map(inc), total)  # over range(100): 5050


@pf.task
def boom_long(x: Any) -> Any:
    """A failure whose message alone is over SWF's 32,768-character details limit."""
    raise ValueError("start of a long message " + "x" * 40_000 + " end of a long message")
