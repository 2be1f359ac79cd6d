"""Tasks shared by the decider tests (the module's file stem names them: `tasks.inc`)."""

from __future__ import annotations

from typing import Any

import pipeflow as pf


@pf.task
def inc(x: int) -> int:
    return x + 1


@pf.task
def add(x: int, y: int = 0) -> int:
    return x + y


@pf.task
def total(xs: list[int]) -> int:
    return sum(xs)


@pf.task
def upto(n: int) -> list[int]:
    return list(range(n))


@pf.task
def const(value: Any) -> Any:
    return value


@pf.task(retries=2, retry_delay=2.0, timeout=30, heartbeat=10)
def flaky(x: int) -> int:
    return x


@pf.task
def boom(x: Any) -> Any:
    raise ValueError(f"bad input {x!r}")


@pf.task
def kinds_of(values: list[Any]) -> list[str]:
    return [type(v).__name__ for v in values]
