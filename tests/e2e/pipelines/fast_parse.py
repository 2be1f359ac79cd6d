"""A chain of 5 `inc` beside a group of 8 `inc` summed, for tests/e2e/test_fast_parse_swf.py: from 0, [5, 36]."""

from __future__ import annotations

import pipeflow as pf


@pf.task
def inc(x: int) -> int:
    return x + 1


@pf.task
def total(values: list[int]) -> int:
    return sum(values)


pipeline = pf.group(pf.chain(*[inc] * 5), pf.chain(pf.group(*[inc.si(i) for i in range(8)]), total))
