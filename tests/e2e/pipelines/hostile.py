"""Pipelines for the hostile-input process tests: a value nested too deep, a signal gate, a plain step."""

from __future__ import annotations

from typing import Any

import pipeflow as pf


@pf.task
def nested(levels: int) -> Any:
    """A tuple nested `levels` deep: past converters' nesting limit, it cannot cross SWF."""
    value: Any = ()
    for _ in range(levels):
        value = (value,)
    return value


@pf.task
def inc(x: int) -> int:
    return x + 1


@pf.task
def grow(x: Any) -> str:
    """A result over SWF's field: offloaded to the worker's store."""
    return "g" * 40_000


deep = pf.chain(nested)
plain = pf.chain(inc)
large = pf.chain(grow)
gate = pf.chain(pf.wait_signal("go"), inc)
