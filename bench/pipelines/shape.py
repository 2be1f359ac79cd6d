"""The 200-activity shape of bench/swf.py: a chain of 100 `inc` from 0 beside a group of 100 `inc` over 0..99, summed.

From input 0 the result is [100, 5050]. bench/simpleflow_shape.py is the same shape for simpleflow.
"""

from __future__ import annotations

import pipeflow as pf


@pf.task
def inc(x: int) -> int:
    return x + 1


@pf.task
def total(values: list[int]) -> int:
    return sum(values)


chain100 = pf.chain(*[inc] * 100)  # from 0: 100
group100 = pf.chain(pf.group(*[inc.si(i) for i in range(100)]), total)  # 1 + ... + 100 = 5050
pipeline = pf.group(chain100, group100)
