"""Pipelines for `pipeflow rerun`, `diff` and `stats` (module level: worker processes import it)."""

from __future__ import annotations

import pipeflow as pf


@pf.task(name="tools.numbers")
def numbers(n: int) -> list[int]:
    return list(range(n))


@pf.task(name="tools.square")
def square(x: int) -> int:
    return x * x


@pf.task(name="tools.total")
def total(values: list[int]) -> int:
    return sum(values)


@pf.task(name="tools.check")
def check(value: int) -> int:
    print(f"checking {value}")
    if value > 100:
        raise ValueError(f"too large: {value}")
    return value


@pf.task(name="tools.blob")
def blob(size: int) -> str:
    """A result over SWF's field limit: offloaded to the store."""
    return "x" * size


@pf.task(name="tools.length")
def length(text: str) -> int:
    return len(text)


# n -> [0..n-1] -> squares -> a stage summing and checking them: n=3 gives 5, n=8 fails at 2.0.1 (140 > 100)
squares = pf.Pipeline(pf.chain(numbers, pf.map(square), pf.stage(pf.chain(total, check), name="sum")),
                      name="tools.squares")
# A value offloaded to the store on its way from step 0 to step 1
big = pf.Pipeline(pf.chain(blob, length), name="tools.big")


class Scale:
    """A class task: a new instance per call (no constructor arguments), then called."""

    def __init__(self) -> None:
        self.factor = 3

    def __call__(self, x: int) -> int:
        return x * self.factor


class Offset:
    """An instance task: its state is captured at definition, encoded through converters."""

    def __init__(self, by: int) -> None:
        self.by = by

    def __call__(self, x: int) -> int:
        return x + self.by


scale = pf.task(Scale, name="tools.scale")
offset = pf.task(Offset(100), name="tools.offset")
scaled = pf.chain(numbers, pf.map(scale), total, offset)
