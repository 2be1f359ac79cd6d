"""Pipelines for the inspection commands' tests (`pipeflow runs/status/tasks/history/result`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pipeflow as pf


@pf.task
def inc(x: int) -> int:
    return x + 1


@pf.task
def total(values: list[int]) -> int:
    return sum(values)


@pf.task(retries=1, retry_delay=0.05)
def flaky(spec: dict[str, Any]) -> int:
    """Fails its first attempt (counted in the file `counter`), then returns `value`."""
    counter = Path(spec["counter"])
    attempt = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(attempt))
    if attempt == 1:
        raise RuntimeError("flaky first attempt")
    return int(spec["value"])


@pf.task
def boom(x: Any) -> Any:
    raise ValueError(f"boom on {x!r}")


retried = pf.chain(flaky, pf.group(inc, inc), total)  # {"counter": path, "value": n} -> 2n + 2
broken = pf.chain(inc, boom)  # fails at step 1
gate = pf.chain(inc, pf.wait_signal("go"), inc)  # the signal's value + 1
