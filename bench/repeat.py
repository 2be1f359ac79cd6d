"""`pf.repeat` of a 10-step chain on the embedded engine: bounded histories and the cost of an iteration.

    .venv/bin/python bench/repeat.py [--times 1000] [--steps 10] [--workers N] [--continue-every 50]

Runs the plain chain `--baseline` times one after the other on one embedded engine (its median
run, started and waited for, is the cost of one pass), a chain of the same steps repeated
`continue_every` times once, then `pf.repeat(chain, times=N)` with no pause, each on a fresh
engine, and prints:
- the repeat's wall time, the runs of its ContinueAsNew chain and the largest history (target:
  under 5,000 events, however many iterations);
- the time per iteration ((repeat wall - start-up) / N) and the overhead per iteration over two
  baselines: one run of the chain, started and waited for as `pf.run` does (a repeat saves that
  start and wait, so this is usually negative), and the same 10 steps inside one long chain of
  `10 x continue_every` steps (what looping, a checkpoint per iteration and ContinueAsNew add).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

# bench/converters.py would shadow the converters package: keep this directory off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import pipeflow as pf  # noqa: E402


@pf.task
def inc(x: int) -> int:
    return x + 1


def run_timed(pipeline: Any, value: Any, workers: int | None, count: int = 1
              ) -> tuple[float, float, Any, dict[str, int], list[float]]:
    """(wall, start-up, last result, history size by run id, each run's time) of `count` runs, one after
    the other, on a fresh embedded engine."""
    from pipeflow import running
    from pipeflow.running import _embedded

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from overhead import history_sizes  # noqa: E402 - the same count as bench/overhead.py

    sys.path.pop(0)
    start = time.perf_counter()
    times: list[float] = []
    with _embedded._embedded(pipeline, store=None, workers=workers, db=None) as embedded:
        ready = time.perf_counter()
        for _ in range(count):
            began = time.perf_counter()
            workflow_id, run_id = running.start(embedded.swf, running.DOMAIN, pipeline, value, store=None)
            result = running.wait(embedded.swf, running.DOMAIN, workflow_id, run_id, None, check=embedded.check)
            times.append(time.perf_counter() - began)
        wall = time.perf_counter() - start
        sizes = history_sizes(embedded.swf, running.DOMAIN)
    return wall, ready - start, result, sizes, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--times", type=int, default=1000, help="iterations of the repeat")
    parser.add_argument("--steps", type=int, default=10, help="tasks in the repeated chain")
    parser.add_argument("--continue-every", type=int, default=50, help="iterations per run before ContinueAsNew")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: CPU count)")
    parser.add_argument("--baseline", type=int, default=30, help="runs of the plain chain to take the median of")
    args = parser.parse_args()

    body = pf.chain(*[inc] * args.steps)
    single = pf.Pipeline(body, name="bench.repeat.single")
    looped = pf.Pipeline(pf.repeat(body, times=args.times, continue_every=args.continue_every),
                         name="bench.repeat.looped")

    _, _, result, _, times = run_timed(single, 0, args.workers, count=args.baseline + 1)
    assert result == args.steps, result
    chain_time = sorted(times[1:])[len(times[1:]) // 2]  # the median run of the chain, the first (warm-up) left out
    # The same steps in one long chain: what 10 steps cost inside a run, without a start and a wait.
    passes = args.continue_every
    long = pf.Pipeline(pf.chain(*[inc] * (args.steps * passes)), name="bench.repeat.long")
    _, _, result, _, (long_time,) = run_timed(long, 0, args.workers)
    assert result == args.steps * passes, result
    inside = long_time / passes
    wall, startup, result, sizes, _ = run_timed(looped, 0, args.workers)
    assert result == args.steps * args.times, result
    per_iteration = (wall - startup) / args.times
    print(f"single chain of {args.steps} (median of {args.baseline} runs, each started and waited for): "
          f"{chain_time * 1e3:.2f} ms; {args.steps} steps inside a chain of {args.steps * passes}: "
          f"{inside * 1e3:.2f} ms")
    print(f"repeat x{args.times} of a {args.steps}-step chain: wall {wall:.3f} s, {len(sizes)} runs "
          f"(ContinueAsNew every {args.continue_every}), largest history {max(sizes.values())} events "
          f"(target < 5,000)")
    print(f"per iteration: {per_iteration * 1e3:.2f} ms; overhead over one chain run "
          f"{(per_iteration - chain_time) * 1e3:+.2f} ms ({(per_iteration / chain_time - 1) * 100:+.0f}%), "
          f"over the same steps inside one run {(per_iteration - inside) * 1e3:+.2f} ms "
          f"({(per_iteration / inside - 1) * 100:+.0f}%)")


if __name__ == "__main__":
    main()
