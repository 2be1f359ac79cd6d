"""Per-activity overhead of pipeflow on the embedded engine.

    .venv/bin/python bench/overhead.py [--workers N] [--width 4000]

Runs, each through `pf.run` (engine, decider thread, worker pool started and
stopped inside the timing):
- a chain of 100 `inc` plus a group of 100 `inc` (200 activities);
- a map of `inc` over 4,000 numbers (4,000 activities);
- a map of `inc` over 20,000 numbers, which shards itself into child executions
  (`--sharded N`): wall time, executions created, the largest history.
Targets: the 4,000-activity run under 1.5 s wall, start-up included; the
20,000-item sharded map under 15 s, no history over 10,000 events.

`--printing` adds the same map of a task that prints one line per call: the cost of keeping
each attempt's log (captured in the worker process, stored in the run's folder).

`--worker-only` measures the worker and the engine without a decider: one
decision schedules 1,000 activities of a JSON `inc`, and the worker runs them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# bench/converters.py would shadow the converters package: keep this directory off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import pipeflow as pf  # noqa: E402


@pf.task
def inc(x: int) -> int:
    return x + 1


@pf.task
def inc_printing(x: int) -> int:
    print(f"inc {x}", file=sys.stderr)  # one line per call: kept in the attempt's log (else on stderr)
    return x + 1


@pf.task
def total(values: list[int]) -> int:
    return sum(values)


def timed(label: str, pipeline: object, value: object, activities: int, expected: object, workers: int | None) -> None:
    start = time.perf_counter()
    result = pf.run(pipeline, input=value, workers=workers)
    wall = time.perf_counter() - start
    assert result == expected, (result, expected)
    print(f"{label}: {activities} activities, wall {wall:.3f} s, {wall / activities * 1e6:.0f} us/activity")


@dataclass(frozen=True)
class PlainTask:
    """A bare function with an activity type: what the worker-only bench registers."""

    name: str
    version: str
    fn: Any
    heartbeat: float | None = None


def plain_execute(task: Any, activity_id: str, data: str, store: str | None) -> list[Any]:
    """The job the worker-only bench runs: JSON in, `inc`, JSON out."""
    return ["ok", json.dumps(json.loads(data) + 1)]


def worker_only(count: int, workers: int | None) -> None:
    from pipeflow.engine import Engine
    from pipeflow.worker import Registry, Worker

    task_type = PlainTask("inc", "1", lambda x: x + 1)
    start = time.perf_counter()
    engine = Engine()
    swf = engine.client()
    swf.register_domain(name="bench", workflowExecutionRetentionPeriodInDays="1")
    swf.register_workflow_type(
        domain="bench", name="wf", version="1", defaultTaskList={"name": "decide"}, defaultChildPolicy="TERMINATE",
        defaultExecutionStartToCloseTimeout="600", defaultTaskStartToCloseTimeout="60",
    )
    swf.register_activity_type(
        domain="bench", name=task_type.name, version=task_type.version, defaultTaskList={"name": "work"},
        defaultTaskScheduleToStartTimeout="600", defaultTaskScheduleToCloseTimeout="600",
        defaultTaskStartToCloseTimeout="60", defaultTaskHeartbeatTimeout="60",
    )
    run = swf.start_workflow_execution(domain="bench", workflowId="w", workflowType={"name": "wf", "version": "1"})
    # fork: a plain task is not something a freshly spawned interpreter can look up
    worker = Worker(swf, "bench", "work", Registry.from_tasks([task_type]), processes=workers,
                    execute=plain_execute, start_method="fork")
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    task = swf.poll_for_decision_task(domain="bench", taskList={"name": "decide"})
    ready = time.perf_counter()
    attributes = {"activityType": {"name": task_type.name, "version": task_type.version}}
    swf.respond_decision_task_completed(taskToken=task["taskToken"], decisions=[
        {"decisionType": "ScheduleActivityTask",
         "scheduleActivityTaskDecisionAttributes": {**attributes, "activityId": str(i), "input": str(i)}}
        for i in range(count)
    ])
    execution = {"workflowId": "w", "runId": run["runId"]}
    while True:
        info = swf.describe_workflow_execution(domain="bench", execution=execution)
        if info["openCounts"]["openActivityTasks"] == 0:
            break
        time.sleep(0.005)
    done = time.perf_counter()
    stop.set()
    engine.close()
    thread.join()
    wall = done - ready
    print(f"worker only: {count} activities, {wall:.3f} s after start-up ({ready - start:.3f} s), "
          f"{wall / count * 1e6:.0f} us/activity")


def sharded(count: int, workers: int | None) -> None:
    """The map of `inc` over `count` numbers, sharded by itself; every execution's history counted after."""
    from pipeflow import running
    from pipeflow.running import _embedded

    pipeline = pf.Pipeline(pf.chain(pf.map(inc), total), name="overhead.sharded")
    store = str(Path("payloads").resolve())
    start = time.perf_counter()
    with _embedded._embedded(pipeline, store=store, workers=workers, db=None) as embedded:
        workflow_id, run_id = running.start(embedded.swf, running.DOMAIN, pipeline, list(range(count)), store=store)
        result = running.wait(embedded.swf, running.DOMAIN, workflow_id, run_id, store, check=embedded.check)
        wall = time.perf_counter() - start
        sizes = history_sizes(embedded.swf, running.DOMAIN)
    assert result == count * (count + 1) // 2, result
    print(f"sharded map({count} inc): {count + 1} activities, wall {wall:.3f} s, {wall / count * 1e6:.0f} us/activity, "
          f"{len(sizes)} executions, largest history {max(sizes.values())} events")


def history_sizes(swf: Any, domain: str) -> dict[str, int]:
    """Events in the history of every closed execution of the domain, by run id."""
    from datetime import datetime, timezone

    sizes: dict[str, int] = {}
    oldest = datetime(2000, 1, 1, tzinfo=timezone.utc)
    listing: dict[str, Any] = {"domain": domain, "startTimeFilter": {"oldestDate": oldest}}
    while True:
        page = swf.list_closed_workflow_executions(**listing)
        for info in page["executionInfos"]:
            request: dict[str, Any] = {"domain": domain, "execution": info["execution"], "maximumPageSize": 1000}
            count = 0
            while True:
                events = swf.get_workflow_execution_history(**request)
                count += len(events["events"])
                if not events.get("nextPageToken"):
                    break
                request["nextPageToken"] = events["nextPageToken"]
            sizes[info["execution"]["runId"]] = count
        if not page.get("nextPageToken"):
            return sizes
        listing["nextPageToken"] = page["nextPageToken"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: CPU count)")
    parser.add_argument("--width", type=int, default=4000, help="width of the map")
    parser.add_argument("--printing", action="store_true",
                        help="also the map with a task printing one line per call (each attempt's log stored)")
    parser.add_argument("--worker-only", action="store_true", help="only the worker and the engine, no decider")
    parser.add_argument("--sharded", type=int, default=20_000, help="items of the sharded map (0: skip it)")
    args = parser.parse_args()
    os.chdir(tempfile.mkdtemp(prefix="pipeflow-bench-"))  # ./.pipeflow/ of the runs goes there
    print(f"cpus {os.cpu_count()}, workers {args.workers or os.cpu_count()}")
    if args.worker_only:
        worker_only(1000, args.workers)
        return
    chain_and_group = pf.group(pf.chain(*[inc] * 100), pf.chain(pf.group(*[inc.si(i) for i in range(100)]), total))
    timed("chain(100 inc) + group(100 inc)", chain_and_group, 0, 201, [100, 5050], args.workers)
    wide = pf.chain(pf.map(inc), total)
    width = args.width
    timed(f"map({width} inc)", wide, list(range(width)), width + 1, width * (width + 1) // 2, args.workers)
    if args.printing:
        printing = pf.chain(pf.map(inc_printing), total)
        for capture in ("0", "1"):  # the cost of keeping the logs: without capture, then with it
            os.environ["PIPEFLOW_CAPTURE"] = capture
            timed(f"map({width} inc, printing a line each, capture {'on' if capture == '1' else 'off'})", printing,
                  list(range(width)), width + 1, width * (width + 1) // 2, args.workers)
        os.environ.pop("PIPEFLOW_CAPTURE")
    if args.sharded:
        sharded(args.sharded, args.workers)


if __name__ == "__main__":
    main()
