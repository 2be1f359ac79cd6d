"""Chaos on real processes: `pipeflow server --db`, deciders and workers killed, outages, a full disk.

Shared by `tests/e2e/test_chaos.py` (small, in CI) and `bench/chaos.py` (the figures of issue 13).
A `Cluster` runs a server on a fixed port and database, and a decider and workers that are
restarted whenever they die (as systemd's Restart=always would). Before each server kill it reads
every history (what the server answered is acknowledged); at the end it checks that every one of
those events is still there, and that no activity was completed twice.
"""

from __future__ import annotations

import collections
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tests._support.servers import TEST_CREDENTIALS, free_port

REPO = Path(__file__).parent.parent.parent
EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)

PIPELINES = textwrap.dedent('''
    import os, time
    import pipeflow as pf

    def _mark(x):
        with open(os.environ["CHAOS_MARK"], "a") as fh:
            fh.write(f"{x}\\n")

    @pf.task
    def double(x):
        # default task options: no retries, the default timeouts and heartbeat timeout
        _mark(x)
        time.sleep(float(os.environ.get("CHAOS_TASK_SECONDS", "0.02")))
        return 2 * x

    @pf.task(heartbeat=5)
    def double_quick(x):
        _mark(x)
        time.sleep(float(os.environ.get("CHAOS_TASK_SECONDS", "0.02")))
        return 2 * x

    @pf.task
    def slow(x):
        _mark(x)
        time.sleep(2.0)
        return f"done {x}"

    chaos = pf.Pipeline(pf.map(double), name="chaos-map")
    chaos_quick = pf.Pipeline(pf.map(double_quick), name="chaos-map-quick")
    lonely = pf.Pipeline(slow, name="chaos-lonely")
''')

# `python -m pipeflow ARGS...` with RLIMIT_FSIZE at argv[1] ("-": unchanged); Python ignores SIGXFSZ,
# so a write past the limit fails with EFBIG (as in tests/engine/test_disk_full.py).
_PRELUDE = (
    "import resource, runpy, sys; "
    "limit = sys.argv.pop(1); "
    "limit == '-' or resource.setrlimit(resource.RLIMIT_FSIZE, "
    "(int(limit), resource.getrlimit(resource.RLIMIT_FSIZE)[1])); "
    "runpy.run_module('pipeflow', run_name='__main__')"
)


@dataclass
class Report:
    """One schedule's outcome: the line `bench/chaos.py` prints."""

    name: str
    faults: int = 0
    runs: int = 0
    correct: int = 0
    wall: float = 0.0
    baseline: float = 0.0
    duplicates: int = 0
    lost: int | None = 0
    checked: int = 0  # acknowledged events checked after the last restart
    notes: list[str] = field(default_factory=list)
    fault_log: list[str] = field(default_factory=list)

    def line(self, target: str) -> str:
        lost = "n/a" if self.lost is None else str(self.lost)
        checked = f" of {self.checked} checked" if self.lost is not None else ""
        return (f"{self.name}: faults {self.faults}, runs correct {self.correct}/{self.runs}, "
                f"wall {self.wall:.1f}s vs fault-free {self.baseline:.1f}s (cost {self.wall - self.baseline:+.1f}s), "
                f"duplicates {self.duplicates}, lost acknowledged events {lost}{checked}  [target: {target}]")


class Cluster:
    """A `pipeflow server --db` on a fixed port, plus supervised deciders and workers against one domain."""

    def __init__(self, tmp: Path, *, task_seconds: float = 0.02, poll_timeout: int = 2) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = tmp / "engine.sqlite"
        self.domain = f"chaos-{uuid.uuid4().hex[:8]}"
        self.file = tmp / "chaos_tasks.py"
        self.file.write_text(PIPELINES)
        self.mark = tmp / "calls.log"
        self.task_seconds = task_seconds
        self.poll_timeout = poll_timeout
        self.server: subprocess.Popen[bytes] | None = None
        self.servers = 0
        self.roles: dict[str, tuple[list[str], subprocess.Popen[bytes]]] = {}
        self.logs_: list[tuple[str, Path]] = []
        self.restarts = 0
        self.acknowledged: dict[tuple[str, str], dict[int, str]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, name="chaos-supervisor", daemon=True)
        self._supervisor.start()

    # -- the server -------------------------------------------------------------------------------------------
    def start_server(self, fsize: int | None = None, timeout: float = 60.0) -> None:
        assert self.server is None or self.server.poll() is not None
        self.servers += 1
        log = self.tmp / f"server-{self.servers}.log"
        env = {**os.environ, **TEST_CREDENTIALS}
        env.pop("AWS_SESSION_TOKEN", None)
        env.pop("AWS_PROFILE", None)
        with log.open("wb") as err:
            self.server = subprocess.Popen(
                [sys.executable, "-c", _PRELUDE, "-" if fsize is None else str(fsize), "server",
                 "--port", str(self.port), "--poll-timeout", str(self.poll_timeout), "--db", str(self.db)],
                cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                start_new_session=True)
        self.logs_.append(("server", log))
        deadline = time.monotonic() + timeout
        while not re.search(r"listening on http://", log.read_text(errors="replace")):
            if self.server.poll() is not None:
                raise RuntimeError(f"server exited with {self.server.returncode}:\n{log.read_text(errors='replace')}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start in {timeout:.0f}s:\n{log.read_text(errors='replace')}")
            time.sleep(0.05)

    def kill_server(self) -> None:
        """SIGKILL the server, after reading every history it has acknowledged."""
        self.snapshot()
        assert self.server is not None
        os.killpg(self.server.pid, signal.SIGKILL)
        self.server.wait()

    def stop_server(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()

    def state_bytes(self) -> int:
        """The largest of the server's files next to its database."""
        return max((p.stat().st_size for p in self.tmp.glob(self.db.name + "*") if p.is_file()), default=0)

    # -- deciders and workers -------------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = self.tmp / f"{name}-{len([n for n, _ in self.logs_ if n == name])}.log"
        with log.open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "pipeflow", *argv, "--domain", self.domain, "--endpoint-url", self.url],
                cwd=self.tmp, start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=err, env={**os.environ, **TEST_CREDENTIALS, "CHAOS_MARK": str(self.mark),
                                 "CHAOS_TASK_SECONDS": str(self.task_seconds)})
        self.logs_.append((name, log))
        return proc

    def role(self, name: str, kind: str, attr: str, *args: str) -> None:
        """A decider or worker that is restarted whenever it dies."""
        argv = [kind, f"{self.file}:{attr}", *args]
        with self._lock:
            self.roles[name] = (argv, self._spawn(name, argv))

    def kill_role(self, name: str) -> None:
        with self._lock:
            _argv, proc = self.roles[name]
            os.killpg(proc.pid, signal.SIGKILL)  # the process and its pool: nothing is handed back
            proc.wait()

    def _supervise(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                for name, (argv, proc) in list(self.roles.items()):
                    if proc.poll() is not None:
                        self.restarts += 1
                        self.roles[name] = (argv, self._spawn(name, argv))

    def close(self) -> None:
        self._stop.set()
        self._supervisor.join(timeout=5)
        with self._lock:
            for _argv, proc in self.roles.values():
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        self.stop_server()
        if self.server is not None and self.server.poll() is None:
            os.killpg(self.server.pid, signal.SIGKILL)

    def logs(self, tail: int = 2000) -> str:
        return "\n".join(f"--- {path.name}:\n{path.read_text(errors='replace')[-tail:]}" for _n, path in self.logs_)

    # -- the SWF side -------------------------------------------------------------------------------------------
    @property
    def swf(self) -> Any:
        from pipeflow.endpoint import swf_client

        return swf_client(endpoint_url=self.url, max_attempts=1)

    def start(self, attr: str, value: Any) -> tuple[str, str]:
        from pipeflow import running
        from pipeflow._loader import load_pipeline
        from pipeflow.running import _embedded

        definition = _embedded._definition(load_pipeline(f"{self.file}:{attr}"))
        swf = self.swf
        running.register(swf, self.domain, definition)
        return running.start(swf, self.domain, definition, value, store=None)

    def calls(self) -> int:
        try:
            with self.mark.open("rb") as fh:
                return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 16), b""))
        except FileNotFoundError:
            return 0

    def closed(self, workflow_id: str, run_id: str) -> bool:
        """Whether the run is closed; False while the server is away."""
        try:
            info = self.swf.describe_workflow_execution(
                domain=self.domain, execution={"workflowId": workflow_id, "runId": run_id})
        except Exception:  # noqa: BLE001 - down, restarting, or refusing (disk full): not closed yet
            return False
        return bool(info["executionInfo"]["executionStatus"] == "CLOSED")

    def result(self, workflow_id: str, run_id: str) -> Any:
        from pipeflow import running

        return running.wait(self.swf, self.domain, workflow_id, run_id, None)

    def executions(self) -> list[dict[str, str]]:
        swf = self.swf
        found: list[dict[str, str]] = []
        for call in (swf.list_open_workflow_executions, swf.list_closed_workflow_executions):
            token: str | None = None
            while True:
                page = call(domain=self.domain, startTimeFilter={"oldestDate": EPOCH}, maximumPageSize=1000,
                            **({"nextPageToken": token} if token else {}))
                found += [info["execution"] for info in page["executionInfos"]]
                token = page.get("nextPageToken")
                if not token:
                    break
        return found

    def histories(self) -> dict[tuple[str, str], list[dict[str, Any]]]:
        swf = self.swf
        out: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for execution in self.executions():
            events: list[dict[str, Any]] = []
            token: str | None = None
            while True:
                page = swf.get_workflow_execution_history(
                    domain=self.domain, execution=execution, maximumPageSize=1000,
                    **({"nextPageToken": token} if token else {}))
                events += page["events"]
                token = page.get("nextPageToken")
                if not token:
                    break
            out[(execution["workflowId"], execution["runId"])] = events
        return out

    def snapshot(self) -> None:
        """Remember every event the server answers with now: acknowledged, so it must survive any restart."""
        try:
            histories = self.histories()
        except Exception:  # noqa: BLE001 - refusing (disk full) or away: nothing more is acknowledged now
            return
        for key, events in histories.items():
            self.acknowledged.setdefault(key, {}).update(
                {int(e["eventId"]): _fingerprint(e) for e in events})

    def audit(self) -> tuple[int, int, int]:
        """(duplicate completions, acknowledged events missing, acknowledged events checked), now."""
        histories = self.histories()
        completed: collections.Counter[tuple[str, str]] = collections.Counter()
        for (workflow_id, _run_id), events in histories.items():
            paths: dict[int, str] = {}  # scheduledEventId -> step path (the activity id without its attempt)
            for event in events:
                if event["eventType"] == "ActivityTaskScheduled":
                    paths[event["eventId"]] = event["activityTaskScheduledEventAttributes"]["activityId"].split("#")[0]
                elif event["eventType"] == "ActivityTaskCompleted":
                    step = paths[event["activityTaskCompletedEventAttributes"]["scheduledEventId"]]
                    completed[(workflow_id, step)] += 1
        duplicates = sum(count - 1 for count in completed.values() if count > 1)
        lost = checked = 0
        for key, known in self.acknowledged.items():
            now = {int(e["eventId"]): _fingerprint(e) for e in histories.get(key, [])}
            checked += len(known)
            lost += sum(1 for event_id, print_ in known.items() if now.get(event_id) != print_)
        return duplicates, lost, checked


def _fingerprint(event: dict[str, Any]) -> str:
    return json.dumps(event, sort_keys=True, default=str)


# -- schedules ------------------------------------------------------------------------------------------------

CHAOS_FAULTS = ("worker", "server", "decider", "worker", "outage", "server", "disk-full", "decider", "worker",
                "server")


def run_map(tmp: Path, *, items: int, attr: str, faults: tuple[str, ...] = (), outage: float = 60.0,
            disk_full: float = 15.0, task_seconds: float = 0.02, timeout: float = 1800.0,
            workers: int = 2, spacing: float = 2.0, say: Any = None) -> Report:
    """A map of `items` activities, 1 decider and `workers` workers; a fault `spacing` s after the one before."""
    report = Report(name="chaos", runs=1)
    cluster = Cluster(tmp, task_seconds=task_seconds)
    try:
        cluster.start_server()
        cluster.role("decider", "decider", attr)
        for i in range(workers):
            cluster.role(f"worker{i}", "worker", attr, "--processes", "1")
        time.sleep(1.0)
        began = time.monotonic()
        workflow_id, run_id = cluster.start(attr, list(range(items)))
        pending = list(faults)
        next_at = began + spacing
        while not cluster.closed(workflow_id, run_id):
            if time.monotonic() - began > timeout:
                raise AssertionError(f"the run did not close within {timeout:.0f}s\n{cluster.logs()}")
            if pending and time.monotonic() >= next_at:
                kind = pending.pop(0)
                at = time.monotonic() - began
                calls = cluster.calls()
                _inject(cluster, kind, outage=outage, disk_full=disk_full, report=report)
                report.faults += 1
                report.fault_log.append(f"{at:.1f}s {kind}")
                if say:
                    say(f"  fault {report.faults}: {kind} at {at:.1f}s ({calls}/{items} task calls so far)")
                next_at = time.monotonic() + spacing
            time.sleep(0.2)
        report.wall = time.monotonic() - began
        if pending:
            report.notes.append(f"{len(pending)} faults not injected: the run finished first")
        value = cluster.result(workflow_id, run_id)
        report.correct = int(value == [2 * i for i in range(items)])
        if not report.correct:
            report.notes.append(f"wrong result: {str(value)[:200]}")
        report.duplicates, report.lost, report.checked = cluster.audit()
        report.notes.append(f"{cluster.restarts} decider/worker restarts, {cluster.calls()} task calls")
        return report
    except BaseException:
        report.notes.append(cluster.logs())
        raise
    finally:
        cluster.close()


def _inject(cluster: Cluster, kind: str, *, outage: float, disk_full: float, report: Report) -> None:
    if kind == "worker":
        cluster.kill_role(next(name for name in sorted(cluster.roles) if name.startswith("worker")
                               and (report.faults % 2 == 0 or name.endswith("1"))))
    elif kind == "decider":
        cluster.kill_role("decider")
    elif kind == "server":
        cluster.kill_server()
        cluster.start_server()
    elif kind == "outage":
        cluster.kill_server()
        time.sleep(outage)
        cluster.start_server()
    elif kind == "disk-full":
        cluster.kill_server()
        # No file may pass one page: every commit's journal or log write fails (EFBIG), the server answers 503.
        # (A limit at the files' current size is not enough: SQLite reuses free pages inside the file.)
        cluster.start_server(fsize=4096)
        refused = probes = 0
        until = time.monotonic() + disk_full
        swf = cluster.swf
        while time.monotonic() < until:  # a write of our own now and then: is the disk full yet?
            probes += 1
            try:
                swf.register_domain(name=f"probe-{uuid.uuid4().hex[:8]}", workflowExecutionRetentionPeriodInDays="1")
            except Exception as exc:  # noqa: BLE001
                code = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
                refused += code == 503
            time.sleep(0.5)
        report.notes.append(f"disk full for {disk_full:.0f}s: {refused} of {probes} probe writes refused with 503")
        cluster.kill_server()
        cluster.start_server()
    else:
        raise ValueError(kind)


def lonely(tmp: Path, *, kill: bool) -> float:
    """One 2 s default-options task; with `kill`, its worker is SIGKILLed 1 s into it. Seconds to the result."""
    cluster = Cluster(tmp)
    try:
        cluster.start_server()
        cluster.role("decider", "decider", "lonely")
        cluster.role("worker0", "worker", "lonely", "--processes", "1")
        time.sleep(2.0)
        began = time.monotonic()
        workflow_id, run_id = cluster.start("lonely", "first")
        if kill:
            while cluster.calls() < 1:
                time.sleep(0.02)
            time.sleep(1.0)
            cluster.kill_role("worker0")  # the supervisor starts another
        while not cluster.closed(workflow_id, run_id):
            if time.monotonic() - began > 300:
                raise AssertionError(cluster.logs())
            time.sleep(0.05)
        took = time.monotonic() - began
        assert cluster.result(workflow_id, run_id) == "done first"
        return took
    finally:
        cluster.close()


EMBEDDED = textwrap.dedent('''
    import os, time
    import pipeflow as pf

    @pf.task
    def double(x):
        time.sleep(0.1)
        return 2 * x

    pipeline = pf.map(double)
''')


def embedded(tmp: Path, *, items: int, faults: bool, timeout: float = 600.0) -> Report:
    """`pipeflow run` of a map in a folder; with `faults`: SIGINT it, resume, SIGKILL the resume, resume again."""
    report = Report(name="embedded", runs=1, lost=None)
    (tmp / "pipe.py").write_text(EMBEDDED)
    expected = [2 * i for i in range(items)]
    began = time.monotonic()
    cmd = [sys.executable, "-m", "pipeflow"]
    common = ["--no-progress", "--workers", "2"]
    proc = subprocess.Popen([*cmd, "run", "pipe.py", "--input", json.dumps(list(range(items))), *common],
                            cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    if faults:
        time.sleep(_until_started(tmp, began) + 3.0)
        os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C
        _out, err = proc.communicate(timeout=60)
        report.faults += 1
        report.fault_log.append(f"{time.monotonic() - began:.1f}s SIGINT of pipeflow run")
        found = re.search(r"pipeflow resume pipe.py (\S+)", err)
        if proc.returncode != 130 or not found:
            report.notes.append(f"SIGINT: exit {proc.returncode}, {err[-500:]}")
            return report
        run_id = found.group(1)
        proc = subprocess.Popen([*cmd, "resume", "pipe.py", run_id, *common], cwd=tmp, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        time.sleep(4.0)
        os.killpg(proc.pid, signal.SIGKILL)  # the run and its pool: nothing is left to answer
        proc.communicate(timeout=60)
        report.faults += 1
        report.fault_log.append(f"{time.monotonic() - began:.1f}s SIGKILL of pipeflow resume")
        proc = subprocess.Popen([*cmd, "resume", "pipe.py", run_id, *common], cwd=tmp, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
    out, err = proc.communicate(timeout=timeout)
    report.wall = time.monotonic() - began
    report.correct = int(proc.returncode == 0 and json.loads(out or "null") == expected)
    if not report.correct:
        report.notes.append(f"exit {proc.returncode}: {err[-1000:]}")
    report.duplicates = _embedded_duplicates(tmp)
    return report


def _until_started(tmp: Path, began: float) -> float:
    """Wait for the embedded engine's database to appear (the run has begun)."""
    while not (tmp / ".pipeflow" / "state.sqlite").exists():
        if time.monotonic() - began > 60:
            break
        time.sleep(0.05)
    return 0.0


def _embedded_duplicates(tmp: Path) -> int:
    """Activity completions recorded twice in the folder's engine (every execution of the `pipeflow` domain)."""
    here = os.getcwd()
    os.chdir(tmp)
    try:
        from pipeflow.engine import Engine

        with Engine(db=".pipeflow/state.sqlite") as engine:
            swf = engine.client()
            completed: collections.Counter[tuple[str, str]] = collections.Counter()
            for call in (swf.list_open_workflow_executions, swf.list_closed_workflow_executions):
                for info in call(domain="pipeflow", startTimeFilter={"oldestDate": EPOCH})["executionInfos"]:
                    execution = info["execution"]
                    paths: dict[int, str] = {}
                    token = None
                    while True:
                        page = swf.get_workflow_execution_history(
                            domain="pipeflow", execution=execution, maximumPageSize=1000,
                            **({"nextPageToken": token} if token else {}))
                        for event in page["events"]:
                            if event["eventType"] == "ActivityTaskScheduled":
                                paths[event["eventId"]] = event["activityTaskScheduledEventAttributes"][
                                    "activityId"].split("#")[0]
                            elif event["eventType"] == "ActivityTaskCompleted":
                                step = paths[event["activityTaskCompletedEventAttributes"]["scheduledEventId"]]
                                completed[(execution["workflowId"], step)] += 1
                        token = page.get("nextPageToken")
                        if not token:
                            break
            return sum(count - 1 for count in completed.values() if count > 1)
    finally:
        os.chdir(here)
