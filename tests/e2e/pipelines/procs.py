"""Tasks for the decider and worker process tests: they log each call and can be made to wait.

Each call appends "<step> <pid>" to the file named by $PIPEFLOW_TEST_LOG (when set), so a test
sees which steps ran, how often and in which process. Small appends to a file opened with
O_APPEND do not interleave.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pipeflow as pf

LOG = "PIPEFLOW_TEST_LOG"


def _log(step: str) -> None:
    path = os.environ.get(LOG)
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{step} {os.getpid()}\n")


@pf.task
def record(step: str, value: int) -> int:
    _log(step)
    return value


@pf.task
def step_inc(x: int) -> int:
    _log(f"inc{x}")
    return x + 1


@pf.task
def record_total(values: list[int]) -> int:
    _log("total")
    return sum(values)


@pf.task(heartbeat=2)
def hold(spec: dict[str, Any]) -> int:
    """Writes `started` (its attempt) and sleeps `seconds` on its first attempt; returns the attempt.

    Attempts are counted in the file `counter`; retries=0, so a second attempt happens only
    when the first was handed back.
    """
    counter = Path(spec["counter"])
    attempt = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(attempt))
    _log(f"hold#{attempt}")
    if attempt == 1:
        Path(spec["started"]).write_text(str(os.getpid()))
        time.sleep(spec["seconds"])
    return attempt


# 10 chained steps and 20 group members then a total: [10, 190].
shared = pf.group(
    pf.chain(*[step_inc] * 10),
    pf.chain(pf.group(*[record.si(f"g{i}", i) for i in range(20)]), record_total),
)
# A step that a test interrupts, then one more.
held = pf.chain(hold, step_inc)
