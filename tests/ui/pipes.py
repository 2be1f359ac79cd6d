"""Pipelines for the console's tests: a failure with a log, a signal gate, a stage."""

from __future__ import annotations

from typing import Any

import pipeflow as pf


@pf.task
def inc(x: int) -> int:
    return x + 1


@pf.task
def boom(x: Any) -> Any:
    print(f"about to fail on {x!r}: <b>not bold</b>")
    raise ValueError(f"boom on {x!r}")


broken = pf.chain(inc, boom)  # fails at step 1, its log tail says why
gate = pf.chain(inc, pf.wait_signal("go"), inc)  # the signal's value + 1
staged = pf.chain(inc, pf.stage(pf.chain(inc, inc), name="inner"), inc)  # x + 4, two steps in a stage
