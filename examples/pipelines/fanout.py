"""Fan out with `map`: count the primes below a limit, one chunk per activity.

    pipeflow run examples/pipelines/fanout.py --input '{"limit": 200000, "chunks": 8}'

split -> map(count_primes) -> total. The chunks run in parallel on the worker
processes; `map` keeps the input order.
"""

from __future__ import annotations

import math
from typing import Any

import pipeflow as pf


@pf.task
def split(spec: dict[str, Any]) -> list[list[int]]:
    """[start, stop) ranges covering [0, limit) in `chunks` pieces."""
    limit, chunks = int(spec["limit"]), int(spec.get("chunks", 4))
    step = math.ceil(limit / chunks)
    return [[lo, min(lo + step, limit)] for lo in range(0, limit, step)]


@pf.task
def count_primes(bounds: list[int]) -> int:
    """Primes in [start, stop), by trial division (CPU-bound on purpose)."""
    start, stop = bounds
    found = 0
    for n in range(max(start, 2), stop):
        if all(n % d for d in range(2, math.isqrt(n) + 1)):
            found += 1
        if n % 20_000 == 0:
            pf.progress(n - start, stop - start)
    return found


@pf.task
def total(counts: list[int]) -> dict[str, Any]:
    """The sum, and the count per chunk."""
    return {"primes": sum(counts), "per_chunk": counts}


pipeline = pf.chain(split, pf.map(count_primes), total)
