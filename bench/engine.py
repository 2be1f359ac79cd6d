"""Activities per second and wake-up delay: `pipeflow server` vs a moto server, and the engine in-process.

Harness (the same for every backend): one scheduling decider, 4 workers, no-op
activities, boto3-shaped clients. Over HTTP the decider and the workers are
separate processes with boto3 clients on loopback; in-process they are threads
calling `Engine.client()`. The decider keeps up to 1,000 activities open (SWF's
limit) and schedules more as completions arrive; the rate is the activity
count over the time from StartWorkflowExecution to the decision task that saw
the last completion.

Wake-up delay: the decider schedules one activity at a time, stamping the
wall-clock time into its input right before RespondDecisionTaskCompleted; the
worker already waiting in a long poll subtracts it from the time its poll
returned.

Run: `.venv/bin/python bench/engine.py [--activities 2000] [--moto-activities N] [--skip-moto]`
(about 2 minutes, most of it moto; moto has no long polling, so its wake-up delay is ~1 s).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DECISIONS = {"name": "decisions"}
ACTIVITIES = {"name": "activities"}
WORKFLOW = {"name": "bench", "version": "1"}
ACTIVITY = {"name": "noop", "version": "1"}
WORKERS = 4
OPEN_LIMIT = 1000  # SWF's open activities per execution
STOP = "stop-"
# the decider reads only events newer than its previous decision: small newest-first pages
PAGE = 100


@dataclass(frozen=True)
class Result:
    """One harness run: how many activities, how long, and the wake-up delays seen by workers."""

    activities: int
    seconds: float
    delays: tuple[float, ...]

    @property
    def rate(self) -> float:
        return self.activities / self.seconds


def boto3_client(url: str) -> Any:
    import boto3
    from botocore.config import Config

    # read_timeout above SWF's 60 s long poll; no retries, so errors show
    config = Config(read_timeout=75, connect_timeout=5, retries={"total_max_attempts": 1})
    return boto3.client("swf", endpoint_url=url, region_name="us-east-1", config=config)


def register(swf: Any, domain: str) -> None:
    swf.register_domain(name=domain, workflowExecutionRetentionPeriodInDays="1")
    swf.register_workflow_type(
        domain=domain,
        **WORKFLOW,
        defaultTaskList=DECISIONS,
        defaultChildPolicy="TERMINATE",
        defaultExecutionStartToCloseTimeout="3600",
        defaultTaskStartToCloseTimeout="600",  # not "NONE": that breaks moto
    )
    swf.register_activity_type(
        domain=domain,
        **ACTIVITY,
        defaultTaskList=ACTIVITIES,
        defaultTaskScheduleToStartTimeout="3600",
        defaultTaskScheduleToCloseTimeout="3600",
        defaultTaskStartToCloseTimeout="600",
        defaultTaskHeartbeatTimeout="600",
    )


def start(swf: Any, domain: str) -> None:
    swf.start_workflow_execution(domain=domain, workflowId=f"bench-{uuid.uuid4().hex[:8]}", workflowType=WORKFLOW)


def _new_events(swf: Any, domain: str, task: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Events newer than the previous decision, reading newest-first pages only as far as needed."""
    previous = task.get("previousStartedEventId", 0)
    page = task
    while True:
        for event in page["events"]:
            if event["eventId"] <= previous:
                return
            yield event
        token = page.get("nextPageToken")
        if not token:
            return
        page = swf.poll_for_decision_task(
            domain=domain, taskList=DECISIONS, reverseOrder=True, maximumPageSize=PAGE, nextPageToken=token
        )


def decider(swf: Any, domain: str, activities: int, window: int, done: Callable[[float], None]) -> None:
    """Schedule `activities` no-ops, at most `window` open at once; then one stop task per worker."""
    scheduled = completed = stops = 0
    while True:
        task = swf.poll_for_decision_task(domain=domain, taskList=DECISIONS, reverseOrder=True, maximumPageSize=PAGE)
        if not task.get("taskToken"):
            continue
        for event in _new_events(swf, domain, task):
            kind = event["eventType"]
            if kind == "ActivityTaskCompleted":
                if completed < activities:
                    completed += 1
                else:
                    stops += 1
            elif kind.startswith("ActivityTask") and kind not in ("ActivityTaskScheduled", "ActivityTaskStarted"):
                raise RuntimeError(f"bench activity did not complete: {event}")
        decisions: list[dict[str, Any]] = []
        if stops == WORKERS:
            decisions.append({"decisionType": "CompleteWorkflowExecution"})
        elif completed == activities and scheduled == activities:
            done(time.time())
            scheduled += 1  # the stop tasks are scheduled once
            decisions += [_schedule(f"{STOP}{i}", "") for i in range(WORKERS)]
        elif scheduled < activities:
            count = min(activities - scheduled, window - (scheduled - completed))
            stamp = ""
            if count > 0:
                stamp = f"{time.time():.6f}"
            decisions += [_schedule(f"a{scheduled + i}", stamp) for i in range(count)]
            scheduled += max(count, 0)
        swf.respond_decision_task_completed(taskToken=task["taskToken"], decisions=decisions)
        if stops == WORKERS:
            return


def _schedule(activity_id: str, input: str) -> dict[str, Any]:
    attributes = {"activityType": ACTIVITY, "activityId": activity_id, "input": input}
    return {"decisionType": "ScheduleActivityTask", "scheduleActivityTaskDecisionAttributes": attributes}


def worker(swf: Any, domain: str, delays: list[float]) -> None:
    """Complete no-op tasks until a stop task arrives; record each task's delay since it was stamped."""
    while True:
        task = swf.poll_for_activity_task(domain=domain, taskList=ACTIVITIES, identity=f"w{os.getpid()}")
        received = time.time()
        if not task.get("taskToken"):
            continue
        if task.get("input"):
            delays.append(received - float(task["input"]))
        swf.respond_activity_task_completed(taskToken=task["taskToken"], result="")
        if task["activityId"].startswith(STOP):
            return


# --- over HTTP: decider and workers in their own processes ------------------------------------


def _worker_process(url: str, domain: str, out: Any) -> None:
    swf = boto3_client(url)
    delays: list[float] = []
    out.put(("ready", None))
    worker(swf, domain, delays)
    out.put(("delays", delays))


def _decider_process(url: str, domain: str, activities: int, window: int, out: Any) -> None:
    swf = boto3_client(url)
    out.put(("ready", None))
    decider(swf, domain, activities, window, lambda at: out.put(("done", at)))


def over_http(url: str, activities: int, window: int) -> Result:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    swf = boto3_client(url)
    domain = f"bench-{uuid.uuid4().hex[:8]}"
    register(swf, domain)
    procs = [ctx.Process(target=_worker_process, args=(url, domain, out)) for _ in range(WORKERS)]
    procs.append(ctx.Process(target=_decider_process, args=(url, domain, activities, window, out)))
    for proc in procs:
        proc.start()
    for _ in procs:
        assert out.get(timeout=120)[0] == "ready"
    time.sleep(0.5)  # let every worker reach its first long poll
    started = time.time()
    start(swf, domain)
    finished = 0.0
    delays: list[float] = []
    for _ in range(WORKERS + 1):
        kind, value = out.get(timeout=1800)
        if kind == "done":
            finished = value
        else:
            delays += value
    for proc in procs:
        proc.join(timeout=60)
    return Result(activities, finished - started, tuple(delays))


# --- in process: the engine and its client, threads -------------------------------------------


def in_process(db: str | None, activities: int, window: int) -> Result:
    from pipeflow.engine import Engine

    engine = Engine(db=db)
    try:
        swf = engine.client()
        domain = "bench"
        register(swf, domain)
        delays: list[float] = []
        finished: list[float] = []
        threads = [threading.Thread(target=worker, args=(engine.client(), domain, delays)) for _ in range(WORKERS)]
        threads.append(
            threading.Thread(target=decider, args=(engine.client(), domain, activities, window, finished.append))
        )
        for thread in threads:
            thread.start()
        time.sleep(0.2)
        started = time.time()
        start(swf, domain)
        for thread in threads:
            thread.join()
        return Result(activities, finished[0] - started, tuple(delays))
    finally:
        engine.close()


# --- report -----------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _delays(label: str, result: Result) -> str:
    ds = sorted(result.delays)
    if not ds:
        return f"{label}: no samples"
    p99 = ds[min(len(ds) - 1, int(len(ds) * 0.99))]
    return f"{label}: median {_ms(statistics.median(ds))}, p99 {_ms(p99)} ({len(ds)} samples)"


def _rate(label: str, result: Result, target: str = "") -> str:
    line = f"{label}: {result.activities} activities in {result.seconds:.2f} s = {result.rate:,.0f} activities/s"
    return f"{line}  (target {target})" if target else line


def _median_run(runs: int, once: Callable[[], Result]) -> Result:
    """The run with the median rate: the machine is shared, one run can hit a busy moment."""
    results = sorted((once() for _ in range(runs)), key=lambda r: r.rate)
    return results[len(results) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activities", type=int, default=2000)
    parser.add_argument(
        "--moto-activities", type=int, default=None, help="fewer activities for moto (slow); default: as many"
    )
    parser.add_argument("--samples", type=int, default=200, help="wake-up samples against pipeflow")
    parser.add_argument("--moto-samples", type=int, default=10, help="wake-up samples against moto (~1 s each)")
    parser.add_argument("--runs", type=int, default=3, help="runs per pipeflow figure; the median is shown")
    parser.add_argument("--skip-moto", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")

    from tests._support.servers import moto_server, pipeflow_server

    n, runs = args.activities, args.runs
    print(f"harness: 1 decider, {WORKERS} workers, no-op activities, up to {OPEN_LIMIT} open; "
          f"pipeflow figures: median of {runs} runs, moto: 1 run", flush=True)
    with pipeflow_server() as url:
        pf = _median_run(runs, lambda: over_http(url, n, OPEN_LIMIT))
        print(_rate("pipeflow server (HTTP, in-memory state)", pf), flush=True)
        pf_wake = over_http(url, args.samples, 1)
        print(_delays("wake-up delay, pipeflow server", pf_wake) + "  (target median < 5 ms)", flush=True)
    with tempfile.TemporaryDirectory() as tmp, pipeflow_server(db=Path(tmp) / "state.sqlite") as url:
        pf_db = _median_run(runs, lambda: over_http(url, n, OPEN_LIMIT))
        print(_rate("pipeflow server (HTTP, --db SQLite file)", pf_db), flush=True)
    if not args.skip_moto:
        with moto_server() as url:
            moto_n = args.moto_activities or n
            moto = over_http(url, moto_n, OPEN_LIMIT)
            print(_rate("moto server (HTTP, its SWF backend behind one lock)", moto), flush=True)
            moto_wake = over_http(url, args.moto_samples, 1)
            print(_delays("wake-up delay, moto (no long polling)", moto_wake), flush=True)
        note = "" if moto_n == n else f"; moto ran {moto_n} activities, not {n}: its cost per task grows with history"
        print(f"ratio pipeflow server / moto: {pf.rate / moto.rate:.1f}x  (target >= 10x{note})", flush=True)
    memory = _median_run(runs, lambda: in_process(None, n, OPEN_LIMIT))
    print(_rate("in-process, in memory", memory, ">= 3,000/s"), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = _median_run(runs, lambda: in_process(str(Path(tmp) / f"{uuid.uuid4().hex}.sqlite"), n, OPEN_LIMIT))
        print(_rate("in-process, SQLite file", sqlite, ">= 1,000/s"), flush=True)
    print(_delays("wake-up delay, in-process in memory", in_process(None, args.samples, 1)), flush=True)


if __name__ == "__main__":
    main()
