"""The shapes bench/peers.py times with `pipeflow run`; bench/pipelines/peers_simpleflow.py is each for simpleflow.

    pipeflow run peers.py:wide --input '[0, 1, ..., 3999]'   # map of inc over 4,000 numbers, summed
    pipeflow run peers.py:chain --input 0                    # 100 inc in a chain: 100
    pipeflow run peers.py:fanout --input '[0, ..., 999]'      # 1,000 inc side by side, summed
"""

from __future__ import annotations

import pipeflow as pf


@pf.task
def inc(x: int) -> int:
    return x + 1


@pf.task
def total(values: list[int]) -> int:
    return sum(values)


wide = pf.chain(pf.map(inc), total)
chain = pf.chain(*[inc] * 100)
fanout = pf.chain(pf.map(inc), total)
