"""The 200-activity pipeline over SWF's HTTP API: wall time, decision tasks, history events, decider CPU.

Shape (bench/pipelines/shape.py): a chain of 100 `inc` from 0 beside a group of
100 `inc` over 0..99 and their sum; the result must be [100, 5050].

Harness, the same on every server: 1 decider and 4 workers, all started (and
given --settle seconds to reach their first poll) before the execution starts.
The decider is a `pipeflow.decider.DeciderLoop` on a thread of this process,
so its CPU can be measured: `time.thread_time()` around each `decide()` (the
pure decider) and around each whole decision task (poll, page reading, decide,
respond: boto3 included). The workers are 4 `pipeflow worker FILE --processes 1`
processes, as 4 independent pollers like simpleflow's `worker.start -N 4`.
Wall time: from StartWorkflowExecution to the run seen closed (DescribeWorkflowExecution
every 20 ms at most).

Servers: a moto server (SWF backend behind one lock, tests/_support/motoserver.py)
with its stock 1 s wait on an empty poll and with that wait removed, and
`pipeflow server` (in-memory state, 60 s long polls).

Targets: the decider's CPU per decision does not grow with history length; wall
time at least 3x better than simpleflow 0.36 on the same server with the same
processes (issue 5 quotes ~26 s on moto without the empty-poll wait, ~117 s on
stock moto). `--simpleflow-python PY` runs bench/pipelines/simpleflow_shape.py with that
interpreter (a venv with simpleflow 0.36, outside the repo) on each server.

The decider parses history pages with `pipeflow.endpoint.fast_parse` (botocore still signs and
sends); `--botocore-parse` leaves them to botocore's parser, as before it (bench/decider_parse.py
times the parse alone). On moto with empty polls returning at once, pipeflow's workers and decider
pace their empty polls (`pipeflow.endpoint.IdlePace`); before they did, 4 idle workers spinning
on moto's one lock made each chained step wait behind their calls (wall 6.4-7.4 s, now about 4.6 s).

Run: `.venv/bin/python bench/swf.py [--skip-stock-moto] [--simpleflow-python /tmp/sfvenv/bin/python]`
(about 2 minutes without simpleflow). simpleflow 0.36 in a venv of its own:
`python3 -m venv /tmp/sfvenv && /tmp/sfvenv/bin/pip install simpleflow==0.36.0`.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# bench/converters.py would shadow the converters package when this file runs as a script.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

SHAPE = HERE / "pipelines" / "shape.py"
SIMPLEFLOW_SHAPE = HERE / "pipelines" / "simpleflow_shape.py"
EXPECTED = [100, 5050]
WORKERS = 4
WAIT_DELAY = 0.02  # seconds between DescribeWorkflowExecution calls while waiting


@dataclass
class Decisions:
    """What the decider thread measured: per decision task, the history length and CPU seconds."""

    history: list[int] = field(default_factory=list)  # startedEventId: events in the history at that task
    decide_cpu: list[float] = field(default_factory=list)  # Decider.decide() alone
    task_cpu: list[float] = field(default_factory=list)  # the whole task: poll, pages, decide, respond


@dataclass(frozen=True)
class Outcome:
    """One run on one server."""

    server: str
    wall: float
    decision_tasks: int
    events: int
    measured: Decisions | None  # None for simpleflow (its decider is another process)
    activity_wait: float  # mean seconds from ActivityTaskScheduled to ActivityTaskStarted
    decision_wait: float  # mean seconds from DecisionTaskScheduled to DecisionTaskStarted


# --- pipeflow: a DeciderLoop on a thread, `pipeflow worker` processes ------------------------


def timed_decider_loop(swf: Any, domain: str, definition: Any, measured: Decisions, fast: bool = True) -> Any:
    """A DeciderLoop whose decisions are timed in CPU seconds of its own thread."""
    from pipeflow.decider import DeciderLoop

    loop = DeciderLoop(swf, domain, definition.task_list, [definition], fast=fast)
    decide, run_once = loop.decider.decide, loop.run_once

    def timed_decide(task: dict[str, Any]) -> list[dict[str, Any]]:
        started = time.thread_time()
        try:
            return decide(task)
        finally:
            measured.decide_cpu.append(time.thread_time() - started)
            measured.history.append(int(task["startedEventId"]))

    def timed_run_once(stop: Any = None) -> bool:
        started = time.thread_time()
        answered = run_once(stop)
        if answered:
            measured.task_cpu.append(time.thread_time() - started)
        return answered

    loop.decider.decide = timed_decide  # type: ignore[method-assign]
    loop.run_once = timed_run_once  # type: ignore[method-assign]
    return loop


@contextmanager
def processes(commands: list[list[str]], logs: Path,
              env: dict[str, str] | None = None) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start the commands (stderr to files under `logs`); on exit SIGTERM them, twice if they linger.

    Each gets a process group of its own, so what it forked is killed with it as a last resort.
    """
    procs = []
    try:
        for n, command in enumerate(commands):
            with open(logs / f"proc{n}.err", "wb") as err:
                procs.append(subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                              stdout=subprocess.DEVNULL, stderr=err, start_new_session=True))
        yield procs
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        # A stopping worker waits for its poll in flight (60 s on a long-polling server):
        # a second signal makes it leave at once.
        deadline = time.monotonic() + 3
        for proc in procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def check_alive(procs: list[subprocess.Popen[bytes]], logs: Path) -> None:
    for n, proc in enumerate(procs):
        if proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode}:\n"
                               f"{(logs / f'proc{n}.err').read_text(errors='replace')}")


def full_history(swf: Any, domain: str, execution: dict[str, str]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    token = None
    while True:
        page = swf.get_workflow_execution_history(
            domain=domain, execution=execution, **({"nextPageToken": token} if token else {}))
        events += page["events"]
        token = page.get("nextPageToken")
        if not token:
            return events


def outcome(server: str, wall: float, events: list[dict[str, Any]], measured: Decisions | None) -> Outcome:
    """The figures of one run from its history: decision tasks, events, how long tasks waited for a poller."""
    at = {e["eventId"]: e["eventTimestamp"] for e in events}

    def waits(started: str, key: str) -> float:
        gaps = [(e["eventTimestamp"] - at[e[key]["scheduledEventId"]]).total_seconds()
                for e in events if e["eventType"] == started]
        return statistics.mean(gaps) if gaps else float("nan")

    tasks = sum(e["eventType"] == "DecisionTaskCompleted" for e in events)
    return Outcome(server, wall, tasks, len(events), measured,
                   waits("ActivityTaskStarted", "activityTaskStartedEventAttributes"),
                   waits("DecisionTaskStarted", "decisionTaskStartedEventAttributes"))


def run_pipeflow(server: str, url: str, settle: float, pool: bool = False, pollers: int = 1,
                 fast: bool = True) -> Outcome:
    """One execution of the shape: decider on a thread here; 4 `pipeflow worker --processes 1` (pool: 1 x 4)."""
    from pipeflow.endpoint import swf_client
    from pipeflow._loader import load_pipeline
    from pipeflow.running import register, start, wait
    from pipeflow.running._embedded import _definition

    definition = _definition(load_pipeline(f"{SHAPE}:pipeline"))
    swf = swf_client(endpoint_url=url)
    domain = f"bench-{uuid.uuid4().hex[:8]}"
    register(swf, domain, definition)
    worker = [sys.executable, "-m", "pipeflow", "worker", f"{SHAPE}:pipeline", "--domain", domain,
              "--endpoint-url", url, "--processes", str(WORKERS if pool else 1), "--pollers", str(pollers)]
    measured = Decisions()
    loop = timed_decider_loop(swf, domain, definition, measured, fast)
    stop = threading.Event()
    errors: list[BaseException] = []

    def decide_forever() -> None:
        try:
            loop.run(stop, pollers=pollers)
        except BaseException as exc:  # the server going away at the end is not an error
            if not stop.is_set():
                errors.append(exc)

    def check() -> None:
        if errors:
            raise errors[0]
        check_alive(procs, logs)

    with tempfile.TemporaryDirectory() as tmp, processes([worker] * (1 if pool else WORKERS), Path(tmp)) as procs:
        logs = Path(tmp)
        # Daemon: on a long-polling server its last poll can outlive the run; it ends with the server.
        threading.Thread(target=decide_forever, name="bench-decider", daemon=True).start()
        time.sleep(settle)
        check()
        started = time.perf_counter()
        workflow_id, run_id = start(swf, domain, definition, 0, store=None)
        result = wait(swf, domain, workflow_id, run_id, None, check=check, max_delay=WAIT_DELAY)
        wall = time.perf_counter() - started
        stop.set()
    if result != EXPECTED:
        raise AssertionError(f"{server}: result {result!r}, expected {EXPECTED!r}")
    return outcome(server, wall, full_history(swf, domain, {"workflowId": workflow_id, "runId": run_id}), measured)


# --- simpleflow: its own decider and worker processes, another interpreter -----------------


def run_simpleflow(server: str, url: str, python: str, settle: float, naive: bool = False) -> Outcome:
    """The same shape under simpleflow: `simpleflow decider.start` and `worker.start -N 4`, then `workflow.start`.

    naive: the shape with one activity name for chain and group, which simpleflow gets wrong (not checked).
    """
    import boto3

    domain = f"bench-sf-{uuid.uuid4().hex[:8]}"
    swf = boto3.client("swf", endpoint_url=url, region_name="us-east-1")
    swf.register_domain(name=domain, workflowExecutionRetentionPeriodInDays="1")
    env = {**os.environ, "AWS_ENDPOINT_URL_SWF": url, "AWS_DEFAULT_REGION": "us-east-1",
           "PYTHONPATH": str(SIMPLEFLOW_SHAPE.parent), "LOG_LEVEL": "WARNING"}
    base = [python, str(SIMPLEFLOW_SHAPE), "--domain", domain, "--endpoint-url", url]
    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp)
        commands = [base + ["decider"], base + ["worker", "--processes", str(WORKERS)]]
        with processes(commands, logs, env) as procs:
            time.sleep(settle)
            check_alive(procs, logs)
            started = time.perf_counter()
            done = subprocess.run(base + ["start"] + (["--naive"] if naive else []), cwd=ROOT, env=env,
                                  capture_output=True, text=True, timeout=1800)
            wall = time.perf_counter() - started
            check_alive(procs, logs)
    if done.returncode != 0:
        raise RuntimeError(f"{server}: simpleflow run failed:\n{done.stderr}")
    workflow_id, run_id, result = done.stdout.splitlines()[-1].split()  # simpleflow prints the ids first
    if naive:
        server = f"{server}, NAIVE (one activity name), result [{result}] (wrong: ids depend on submission order)"
    elif [int(v) for v in result.split(",")] != EXPECTED:
        raise AssertionError(f"{server}: simpleflow result {result!r}, expected {EXPECTED!r}")
    return outcome(server, wall, full_history(swf, domain, {"workflowId": workflow_id, "runId": run_id}), None)


# --- report -------------------------------------------------------------------------------


def _ms(values: list[float]) -> str:
    return f"{statistics.mean(values) * 1000:.2f}" if values else "-"


def report(run: Outcome) -> str:
    line = (f"{run.server}: wall {run.wall:.2f} s, {run.decision_tasks} decision tasks, "
            f"{run.events} history events; mean time from scheduled to started (queueing included): activity task "
            f"{run.activity_wait * 1000:.0f} ms, decision task {run.decision_wait * 1000:.0f} ms")
    m = run.measured
    if m is None:
        return line
    n = len(m.history)
    third = max(n // 3, 1)
    early, late = slice(0, third), slice(n - third, n)

    def span(part: slice) -> str:
        return f"{min(m.history[part])}-{max(m.history[part])} events"

    return (f"{line}\n"
            f"    decider CPU per decision, decide() alone: mean {_ms(m.decide_cpu)} ms; "
            f"first third {_ms(m.decide_cpu[early])} ms (history {span(early)}), "
            f"last third {_ms(m.decide_cpu[late])} ms (history {span(late)})\n"
            f"    decider CPU per decision task, poll+pages+decide+respond (boto3 included): mean {_ms(m.task_cpu)} ms; "
            f"first third {_ms(m.task_cpu[early])} ms, last third {_ms(m.task_cpu[late])} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--skip-stock-moto", action="store_true", help="skip moto with its 1 s empty-poll wait")
    parser.add_argument("--skip-moto", action="store_true", help="pipeflow server only")
    parser.add_argument("--skip-pipeflow-server", action="store_true", help="moto only")
    parser.add_argument("--botocore-parse", action="store_true",
                        help="the decider leaves history pages to botocore's parser (no endpoint.fast_parse)")
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds between starting the decider and workers and starting the run")
    parser.add_argument("--simpleflow-python", metavar="PY",
                        help="a Python with simpleflow 0.36: also run bench/pipelines/simpleflow_shape.py on each server")
    parser.add_argument("--simpleflow-naive", action="store_true",
                        help="also run simpleflow's naive shape (one activity name), which it gets wrong")
    parser.add_argument("--pool", action="store_true",
                        help="one `pipeflow worker --processes 4` (1 poller, 4 forked children) instead of 4 x 1")
    parser.add_argument("--pollers", type=int, default=1,
                        help="polls each pipeflow worker and the decider keep open at once (`--pollers`)")
    args = parser.parse_args()
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

    from tests._support.servers import TEST_CREDENTIALS, moto_server, pipeflow_server

    os.environ.update(TEST_CREDENTIALS)  # what the servers accept (pipeflow server verifies SigV4)

    servers: list[tuple[str, Callable[[], AbstractContextManager[str]]]] = []
    if not args.skip_moto:
        servers.append(("moto, empty polls return at once", lambda: moto_server(empty_poll_delay=0.0)))
        if not args.skip_stock_moto:
            servers.append(("moto, stock 1 s empty-poll wait", moto_server))
    if not args.skip_pipeflow_server:
        servers.append(("pipeflow server (in-memory)", pipeflow_server))
    workers = f"1 x `pipeflow worker --processes {WORKERS}`" if args.pool else \
        f"{WORKERS} x `pipeflow worker --processes 1`"
    print(f"shape: chain of 100 inc + group of 100 inc summed (200 activities), result {EXPECTED} checked; "
          f"1 decider (thread of this process) + {workers}; pipeflow pollers per process: {args.pollers}",
          flush=True)
    for name, server in servers:
        with server() as url:
            label = f"pipeflow{' (botocore parse)' if args.botocore_parse else ''} on {name}"
            print(report(run_pipeflow(label, url, args.settle, args.pool, args.pollers, not args.botocore_parse)),
                  flush=True)
            if args.simpleflow_python:
                print(report(run_simpleflow(f"simpleflow 0.36 on {name}", url, args.simpleflow_python,
                                            args.settle)), flush=True)
                if args.simpleflow_naive:
                    print(report(run_simpleflow(f"simpleflow 0.36 on {name}", url, args.simpleflow_python,
                                                args.settle, naive=True)), flush=True)


if __name__ == "__main__":
    main()
