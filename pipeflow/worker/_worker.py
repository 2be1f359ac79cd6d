"""The worker's polling loop: poll activity tasks, run them in the pool, answer SWF.

Threads in the parent process (the caller of `run` waits for `stop` and watches the pool):
- the pollers (`pollers`, default 1): PollForActivityTask while there is room;
- the pool's dispatch thread: hands jobs to children, receives results and
  answers RespondActivityTaskCompleted / Failed;
- the heartbeat thread: RecordActivityTaskHeartbeat for every task held, on
  time for its heartbeat timeout, carrying the details the task reported.

Shutting down (`stop` set) loses no task: no new poll starts; tasks that are
not running yet (prefetched, or brought by a poll still in flight) are handed
back at once (RespondActivityTaskFailed with the reason `pipeflow.handback`,
which the decider schedules again without spending a retry); running tasks
finish and are reported, or after the grace period are killed and handed back.

An engine that is away (no connection, 5xx, throttling, a domain not registered
yet) is waited for, forever, with capped and jittered backoff (`Outage`); a
finished task's answer is kept and sent until taken (`_answers.send_answer`).
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time
from typing import Any

from ..endpoint import WORKER_IDLE_MAX, IdlePace, Outage, PollSpacer, error_code, is_transient, loop_client
from ..endpoint import raise_engine_error
from ..wire import encode_handback, run_scope
from ._answers import send_answer
from ._batched import Outbox, refill_at, take_tasks
from ._child import Execute
from ._context import fit_details
from ._execute import died_failure, unknown_type_failure
from ._execute import execute as run_activity
from ._held import IDLE_BEAT as IDLE_BEAT, IDLE_RATE as IDLE_RATE, MIN_DETAILS_GAP, Held as _Held
from ._held import idle_interval as idle_interval
from ._pool import Job, Pool
from ._registry import Registry

__all__ = ["Worker"]

log = logging.getLogger("pipeflow.worker")

SHORT_TASK = 0.05  # tasks shorter than this (seconds, on average) are prefetched
PREFETCH = 32  # tasks held per process when they are short


class Worker:
    """Runs the activity tasks of one task list with the tasks of its registry.

    `store` is the worker's own store (a URI; `pipeflow worker` defaults it to ./.pipeflow/payloads).
    A task whose run names a store is run only when that store lies under this one, and fails
    saying so otherwise: a task input never chooses where a worker reads or writes. Runs started
    without a store offload into this one, under their own folder. None: no store (runs naming
    one are refused, oversize values fail).
    """

    def __init__(
        self,
        swf: Any,
        domain: str,
        task_list: str,
        registry: Registry,
        *,
        processes: int | None = None,
        identity: str | None = None,
        store: str | None = None,
        start_method: str | None = None,
        execute: Execute = run_activity,
        pollers: int = 1,
    ) -> None:
        self.swf = loop_client(swf)  # transient errors are retried here, forever: not inside botocore for long
        self.pollers = pollers  # concurrent PollForActivityTask calls: more hide network latency
        self._spacer = PollSpacer(pollers)  # their starts spread in time (see pipeflow/endpoint/_polling.py)
        self.domain = domain
        self.task_list = task_list
        self._outage = Outage(log, f"worker of task list {task_list}")
        self.registry = registry
        self.processes = processes or os.cpu_count() or 1
        self.identity = (identity or f"{socket.gethostname()}:{os.getpid()}")[:256]
        self.store = store
        self._start_method = start_method
        self._execute = execute
        self._held: dict[int, _Held] = {}
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._mean_duration = 1.0  # assume long tasks until some are measured
        self._pool: Pool | None = None
        self._crash: BaseException | None = None
        self._polling = 0  # polls in flight
        self._reserved = 0  # tasks the polls in flight may bring
        # The embedded engine's Batch (set by pf.run): several tasks taken, and answered, per call.
        self.batch: Any = None
        self._outbox = Outbox(self._send)
        self._draining = False  # stopping: tasks that arrive now are handed back
        self._stop: threading.Event | None = None  # the event `run` watches
        self._finished = threading.Event()  # `run` is over: the heartbeat thread leaves

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> None:
        """Start the worker processes; `run` does it if not done before."""
        if self._pool is None:
            self._pool = Pool(
                self.registry,
                self.processes,
                on_done=self._done,
                on_beat=self._beat,
                on_round=self._flush,
                store=self.store,
                start_method=self._start_method,
                execute=self._execute,
            )
            self._pool.start()

    def run(self, stop: threading.Event, *, drain_timeout: float = 300.0, poll_wait: float = 0.0) -> None:
        """Poll and run tasks until `stop` is set, then shut down without losing a task.

        After `stop`: tasks not started yet are handed back at once; running tasks finish
        and are reported, for up to `drain_timeout` seconds, after which their processes are
        killed and they are handed back; polls in flight are waited for up to `poll_wait`
        seconds (what they bring is handed back). Raises WorkerError when the worker
        processes cannot load the tasks.
        """
        self.start()
        assert self._pool is not None
        self._finished.clear()
        self._stop = stop
        try:
            self._pool.wait_ready()
            beats = threading.Thread(target=self._heartbeats, name="pipeflow-heartbeat", daemon=True)
            beats.start()
            for n in range(self.pollers):
                poller = threading.Thread(target=self._polling_thread, args=(stop,), name=f"pipeflow-poller-{n}",
                                          daemon=True)
                poller.start()
            while not stop.wait(0.5):
                self._pool.check()
                if self._crash is not None:
                    raise self._crash
            self._drain(drain_timeout, poll_wait)
        finally:
            with self._cond:
                self._draining = True
            killed = bool(self._held)
            self.close(timeout=0.0 if killed else 10.0)
            # Killed after the grace period or on an error: handed back, not left to time out.
            self._hand_back_all("it was still running when the worker stopped")
            self._finished.set()

    def _drain(self, grace: float, poll_wait: float) -> None:
        assert self._pool is not None
        with self._cond:
            self._draining = True
        for job_id in self._pool.hold():
            self._hand_back(job_id, "it had not started")
        now = time.monotonic()
        grace_end, poll_end = now + grace, now + poll_wait
        killed = False
        while True:
            with self._cond:
                now = time.monotonic()
                running = bool(self._held) and not killed
                if not (running and now >= grace_end):
                    if running or (self._polling and now < poll_end):
                        self._cond.wait(0.1)
                        continue
                    return
                count = len(self._held)
            # Grace period over: kill the running tasks' processes, hand the tasks back (and
            # go on waiting for the polls in flight, if any).
            log.warning("grace period over: killing %d running task(s) and handing them back", count)
            self.close(timeout=0.0)
            self._hand_back_all("it was still running after the grace period")
            killed = True

    def waiting_for(self) -> tuple[int, int]:
        """(tasks running or queued, polls in flight): what a stopping worker waits for."""
        with self._cond:
            return len(self._held), self._polling

    def close(self, timeout: float = 10.0) -> None:
        """Stop the worker processes, killing those still busy after `timeout` seconds."""
        if self._pool is not None:
            self._pool.stop(timeout)

    @property
    def pids(self) -> list[int]:
        """Process ids of the worker processes (for tests and diagnostics)."""
        return self._pool.pids if self._pool is not None else []

    # -- polling --------------------------------------------------------------

    def _limit(self) -> int:
        # Short tasks are prefetched so children never wait on a round trip;
        # long ones are not, so other workers can take them.
        return self.processes * (PREFETCH if self._mean_duration < SHORT_TASK else 1)

    def _refill_at(self) -> int:
        return refill_at(self._limit(), self._mean_duration < SHORT_TASK, self.batch is not None)

    def _polling_thread(self, stop: threading.Event) -> None:
        try:
            self._poll_loop(stop)
        except BaseException as exc:  # a bug here must stop the worker, not leave it silently idle
            self._crash = exc

    def _poll_loop(self, stop: threading.Event) -> None:
        failures = 0  # transient failures in a row
        pace = IdlePace(WORKER_IDLE_MAX, self._spacer)
        while not stop.is_set():
            with self._cond:
                while len(self._held) + self._reserved > self._refill_at() and not stop.is_set():
                    self._cond.wait(0.5)
                room = max(1, self._limit() - len(self._held) - self._reserved) if self.batch is not None else 1
                self._polling += 1
                self._reserved += room
            try:
                if stop.is_set():
                    return
                try:
                    started = self._spacer.starting()
                    tasks = take_tasks(self.swf, self.batch, room, domain=self.domain,
                                       taskList={"name": self.task_list}, identity=self.identity)
                except Exception as exc:
                    if stop.is_set():
                        return
                    if not is_transient(exc, polling=True):  # the user's mistake (a bad task list): say so, stop
                        raise_engine_error(exc, "PollForActivityTask")
                    self._outage.failed(exc, failures, stop)
                    failures += 1
                    continue
                failures = 0
                self._outage.ok()
                for task in tasks:
                    self._accept(task)
                if pace.after(started, bool(tasks), stop):
                    return
            finally:
                with self._cond:
                    self._polling -= 1
                    self._reserved -= room

    def _stopping(self) -> bool:
        return self._draining or (self._stop is not None and self._stop.is_set())

    def _accept(self, task: dict[str, Any]) -> None:
        if self._stopping():  # arrived after the signal: hand it back rather than start it
            self._respond_failed(task["taskToken"], *encode_handback(
                self.identity, f"task {task['activityId']} arrived after the signal to stop"))
            return
        kind = task["activityType"]
        definition = self.registry.get(kind["name"], kind["version"])
        if definition is None:
            reason, details = unknown_type_failure(kind["name"], kind["version"], task["activityId"], self.registry)
            self._respond_failed(task["taskToken"], reason, details)
            return
        # A Task's heartbeat timeout (its default included); registries of other task objects give `heartbeat`.
        heartbeat = getattr(definition, "heartbeat_timeout", getattr(definition, "heartbeat", None))
        now = time.monotonic()
        job_id = next(self._ids)
        held = _Held(
            token=task["taskToken"],
            activity_id=task["activityId"],
            task=definition,
            interval=min(heartbeat / 3, IDLE_BEAT) if heartbeat else IDLE_BEAT,
            started=now,
            last_beat=now,
            timed=bool(heartbeat),
        )
        assert self._pool is not None
        run = task["workflowExecution"]
        store = run_scope(self.store, run["workflowId"], run["runId"]) if self.store is not None else None
        job = Job(job_id, kind["name"], kind["version"], task["activityId"], task.get("input", ""), store)
        with self._cond:
            if self._stopping():  # the signal came meanwhile
                handback = True
            else:
                handback = False
                self._held[job_id] = held
                # Under the lock: a drain starting now finds the job queued, and returns it.
                self._pool.submit(job)
        if handback:
            self._respond_failed(held.token, *encode_handback(
                self.identity, f"task {held.activity_id} arrived after the signal to stop"))

    def _hand_back(self, job_id: int, why: str) -> None:
        """Return a held task to SWF unrun (or unfinished): the decider schedules it again at once."""
        with self._cond:
            held = self._held.pop(job_id, None)
            if not self._held:
                self._cond.notify_all()
        if held is not None:
            log.info("handing back task %s: %s", held.activity_id, why)
            self._respond_failed(held.token, *encode_handback(self.identity, f"task {held.activity_id}: {why}"))

    def _hand_back_all(self, why: str) -> None:
        with self._cond:
            ids = list(self._held)
        for job_id in ids:
            self._hand_back(job_id, why)

    # -- results (called on the pool's thread) --------------------------------

    def _done(self, job_id: int, outcome: list[Any]) -> None:
        if outcome[0] == "unstarted":  # queued behind a child that died while the worker stops
            self._hand_back(job_id, "it had not started")
            return
        with self._cond:
            held = self._held.pop(job_id, None)
            if held is None:
                return  # already handed back (the worker is stopping)
            duration = time.monotonic() - held.started
            self._mean_duration = 0.8 * self._mean_duration + 0.2 * duration
            if len(self._held) + self._reserved <= self._refill_at() or not self._held:
                self._cond.notify_all()  # only a poller waiting for room (or a drain) cares
        # Batched: sent with the other answers of this round of the pool's thread (`_flush`).
        answer = self._outbox.add if self.batch is not None and not self._stopping() else self._send
        if outcome[0] == "ok":
            answer("RespondActivityTaskCompleted", held.activity_id, {"taskToken": held.token, "result": outcome[1]})
        elif outcome[0] == "fail":
            answer("RespondActivityTaskFailed", held.activity_id,
                   {"taskToken": held.token, "reason": outcome[1][:256], "details": outcome[2]})
        elif outcome[0] == "canceled":  # its heartbeat said so: the process running it was killed
            log.info("task %s canceled", held.activity_id)
            answer("RespondActivityTaskCanceled", held.activity_id, {"taskToken": held.token})
        else:  # "died": the process running it is gone
            reason, details = died_failure(held.task, held.activity_id, outcome[1])
            answer("RespondActivityTaskFailed", held.activity_id,
                   {"taskToken": held.token, "reason": reason[:256], "details": details})

    def _flush(self) -> None:
        """End of a round of the pool's thread: the answers queued in it, in one call."""
        if self.batch is not None:
            self._outbox.flush(self.batch)

    def _send(self, call: str, activity_id: str, params: dict[str, Any]) -> None:
        self._answer(call, activity_id, **params)

    def _respond_failed(self, token: str, reason: str, details: str, activity_id: str = "?") -> None:
        self._answer("RespondActivityTaskFailed", activity_id, taskToken=token, reason=reason[:256], details=details)

    def _answer(self, call: str, activity_id: str, **params: Any) -> None:
        """Send a task's answer until the engine takes it or says the task is gone (`send_answer`)."""
        send_answer(self.swf, call, activity_id, params, outage=self._outage, stopping=self._stopping,
                    wait_on=lambda: self._finished if self._stopping() or self._stop is None else self._stop)

    def _beat(self, job_id: int, details: str | None) -> None:
        with self._cond:
            held = self._held.get(job_id)
            if held is not None:
                held.details = fit_details(details)
                held.dirty = True

    # -- heartbeats -----------------------------------------------------------

    def _heartbeats(self) -> None:
        while not self._finished.is_set():
            with self._cond:
                now = time.monotonic()
                idle = idle_interval(sum(1 for held in self._held.values() if not held.timed))
                due = [
                    (job_id, held)
                    for job_id, held in self._held.items()
                    if now - held.last_beat >= (held.interval if held.timed else idle)
                    or (held.dirty and now - held.last_beat >= min(MIN_DETAILS_GAP, held.interval))
                ]
                beats = [(job_id, held.token, held.details) for job_id, held in due]
                for _, held in due:
                    held.last_beat, held.dirty = now, False
                tick = min((h.interval for h in self._held.values()), default=1.0)
            for job_id, token, details in beats:
                if self._send_beat(token, details) and self._pool is not None:
                    self._pool.cancel(job_id)  # reported back through _done as "canceled"
            self._finished.wait(min(max(tick / 4, 0.05), 1.0))

    def _send_beat(self, token: str, details: str | None) -> bool:
        """Record a heartbeat; True when the task is to stop: its cancel was requested, or SWF no longer knows it."""
        params: dict[str, Any] = {"taskToken": token}
        if details is not None:
            params["details"] = details
        try:
            answer = self.swf.record_activity_task_heartbeat(**params)
        except Exception as exc:
            log.debug("RecordActivityTaskHeartbeat failed: %s", exc)
            # Timed out, or its run closed (canceled, terminated): nobody takes its result any more.
            return error_code(exc) == "UnknownResourceFault"
        return bool(answer.get("cancelRequested"))
