"""Time `tasks_frame`, `history_frame`, `progress_of` and `timeline` on the history of a real run.

SWF (and the embedded engine) end a history at 25,000 events, terminating the execution
(EVENT_LIMIT_EXCEEDED), so that is the largest history there is. The bench makes one: it runs
a pipeline too long for it on the embedded engine (decider, worker pool and engine in this
process, as `pf.run` does): a stage, then five maps of 1,600 items each (the most a map runs
before it shards itself) whose first one fails 5% of its attempts at random, retried after a
timer, then a total. The engine terminates it at 25,000 events, some 8,000 task attempts in,
a few still running. The timeline is timed on its first 4,000 attempts, and on all of them.

Targets: tasks() and history() of 25,000 events under 0.5 s each; timeline() of 4,000
attempts under 2 s (drawing it to a PNG, as Jupyter does, reported beside it).
Run: .venv/bin/python bench/frames.py [--items 1600] [--repeat 5]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path, and this file would shadow the stdlib's `inspect`.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))
sys.modules.pop("inspect", None)  # this script, if something already imported it under that name

import argparse  # noqa: E402
import io  # noqa: E402
import logging  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import pipeflow as pf  # noqa: E402
from pipeflow import running  # noqa: E402
from pipeflow._pipeline import as_pipeline  # noqa: E402
from pipeflow.client import history_frame, progress_of, tasks_frame, timeline  # noqa: E402
from pipeflow.running import _embedded

EVENTS = 25_000
ATTEMPTS = 4_000


@pf.task(name="bench.spread")
def spread(n: int) -> list[int]:
    return list(range(n))


@pf.task(name="bench.flaky", retries=3, retry_delay=0.05)
def flaky(x: int) -> int:
    if random.random() < 0.05:
        raise RuntimeError(f"flaky on {x}")
    return x + 1


@pf.task(name="bench.inc")
def inc(x: int) -> int:
    return x + 1


@pf.task(name="bench.total")
def total(values: list[int]) -> int:
    return sum(values)


def record(items: int) -> list[dict[str, Any]]:
    """Run the pipeline on the embedded engine; the parent execution's whole history."""
    pipeline = as_pipeline(pf.Pipeline(pf.chain(
        pf.stage(pf.chain(inc, inc), name="warm-up"), spread,
        pf.map(flaky), pf.map(inc), pf.map(inc), pf.map(inc), pf.map(inc), total,
    ), name="bench.inspect"))
    with _embedded._embedded(pipeline, store=None, workers=None, db=None) as embedded:
        swf = embedded.swf
        # the warm-up stage adds 2 to the input before `spread` makes that many items
        workflow_id, run_id = running.start(swf, running.DOMAIN, pipeline, items - 2, store=None)
        try:
            running.wait(swf, running.DOMAIN, workflow_id, run_id, None, check=embedded.check)
        except pf.RunTerminated:
            pass  # at the history's limit, as planned
        events: list[dict[str, Any]] = []
        params: dict[str, Any] = {"domain": running.DOMAIN, "execution": {"workflowId": workflow_id, "runId": run_id},
                                  "maximumPageSize": 1000}
        while True:
            page = swf.get_workflow_execution_history(**params)
            events += page["events"]
            if not page.get("nextPageToken"):
                return events
            params["nextPageToken"] = page["nextPageToken"]


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """(best, median) seconds of `repeat` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def drawn(frame: Any) -> None:
    """timeline() and its PNG, as a notebook shows it."""
    timeline(frame).savefig(io.BytesIO(), format="png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1600, help="items of each map (1,600: the most unsharded)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    # The workers' answers for attempts still open at the termination are refused: not news here.
    logging.getLogger("pipeflow").setLevel(logging.ERROR)
    events = record(args.items)
    tasks = tasks_frame(events)
    counts = tasks["status"].value_counts().to_dict()
    print(f"history: {len(events):,} events ({events[-1]['eventType']}), {len(tasks):,} attempts "
          f"({int((tasks['attempt'] > 1).sum())} retries; {counts}), recorded in {time.perf_counter() - started:.1f} s")
    if len(events) < EVENTS:
        print(f"note: fewer than {EVENTS:,} events; raise --items")
    head = events[:EVENTS]
    # boto3's shape against Amazon SWF or moto: the same timestamps in `tzlocal()`
    from dateutil.tz import tzlocal

    local = tzlocal()
    boto = [{**e, "eventTimestamp": e["eventTimestamp"].astimezone(local)} for e in head]
    first = tasks_frame(head).head(ATTEMPTS)
    rows = [
        (f"tasks_frame   {len(head):>6,} events", lambda: tasks_frame(head), 0.5),
        ("  the same, boto3 tzlocal times", lambda: tasks_frame(boto), 0.5),
        (f"history_frame {len(head):>6,} events", lambda: history_frame(head), 0.5),
        ("  the same, boto3 tzlocal times", lambda: history_frame(boto), 0.5),
        (f"progress_of   {len(head):>6,} events", lambda: progress_of(head), None),
        (f"timeline      {len(first):>6,} attempts", lambda: timeline(first), 2.0),
        (f"  + PNG       {len(first):>6,} attempts", lambda: drawn(first), None),
        (f"timeline      {len(tasks):>6,} attempts", lambda: timeline(tasks), None),
        (f"  + PNG       {len(tasks):>6,} attempts", lambda: drawn(tasks), None),
    ]
    timeline(first)  # matplotlib's first figure pays for its imports and fonts: not part of the figure
    print(f"{'':34} {'best':>8} {'median':>8}  target")
    for label, fn, target in rows:
        best, median = timed(fn, args.repeat)
        verdict = "" if target is None else f"< {target} s {'ok' if median < target else 'MISSED'}"
        print(f"{label:34} {best:8.3f} {median:8.3f}  {verdict}")


if __name__ == "__main__":
    main()
