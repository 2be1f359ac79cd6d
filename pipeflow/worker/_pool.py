"""A pool of worker processes fed from one thread in the parent.

Not `concurrent.futures.ProcessPoolExecutor`: when one of its processes dies
every pending future breaks, so an out-of-memory kill of one task would fail
its neighbours too. Here each child has its own pipe; a child that dies fails
only the task it was running, the tasks queued behind it go to the others, and
a new child takes its place. Jobs go down in batches when many are waiting,
which keeps the per-task cost of the pipe small for short tasks; results that
arrive together are reported before `on_round` is called, so the worker can
answer them in one call (see _batched).
"""

from __future__ import annotations

import collections
import logging
import math
import multiprocessing
import selectors
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from .._errors import WorkerError
from ._child import Execute, child_main, pack, unpack
from ._execute import execute as run_activity
from ._registry import Registry

__all__ = ["Job", "Pool"]

log = logging.getLogger("pipeflow.worker")

MAX_BATCH = 32  # jobs sent down a pipe in one message


@dataclass(frozen=True)
class Job:
    """One activity task to run: the parent's id for it and what the child needs."""

    id: int
    name: str
    version: str
    activity_id: str
    input: str
    store: str | None = None  # the worker's store scoped to the task's run: the run's own must lie under it

    def message(self) -> list[Any]:
        return [self.id, self.name, self.version, self.activity_id, self.input, self.store]


@dataclass
class _Child:
    process: BaseProcess
    conn: Connection
    ready: bool = False
    leaving: bool = False  # said it exits between jobs: none of its jobs has started
    killed: bool = False  # killed because its running job was canceled
    jobs: collections.deque[Job] = field(default_factory=collections.deque)  # in order; [0] is running


Done = Callable[[int, list[Any]], None]
Beat = Callable[[int, "str | None"], None]


def _nothing() -> None:
    pass


class Pool:
    """`processes` children running jobs; results and heartbeats come back through callbacks."""

    def __init__(
        self,
        registry: Registry,
        processes: int,
        *,
        on_done: Done,
        on_beat: Beat,
        on_round: Callable[[], None] = _nothing,
        store: str | None = None,
        start_method: str | None = None,
        execute: Execute = run_activity,
    ) -> None:
        if processes < 1:
            raise ValueError(f"processes must be at least 1, not {processes}")
        self._registry = registry
        self._processes = processes
        self._on_done = on_done
        self._on_beat = on_beat
        self._on_round = on_round  # called when the results waiting were all reported (see _run_loop)
        self._store = store
        self._execute = execute  # a module-level function: spawned children import it
        method = start_method or _default_method(registry)
        self._ctx: Any = multiprocessing.get_context(method)  # typeshed's BaseContext lacks Process
        self._source: Registry | list[Any] = registry.refs() if method == "spawn" else registry
        self._queue: collections.deque[Job] = collections.deque()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = multiprocessing.Pipe(duplex=False)
        # One selector for the pool's life: multiprocessing's wait() builds a new one per call.
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._children: list[_Child] = []
        self._stopping = False
        self._holding = False  # shutting down: queued jobs are returned, none is started
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._failure: str | None = None
        self._cancels: list[int] = []  # jobs to cancel, handled on the dispatch thread
        self._canceled: set[int] = set()  # canceled jobs still in a child's batch: reported canceled

    # -- public ---------------------------------------------------------------

    def start(self) -> None:
        """Start the children and the dispatch thread; jobs queue until children are ready."""
        self._children = [self._spawn() for _ in range(self._processes)]
        self._thread = threading.Thread(target=self._loop, name="pipeflow-pool", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait until every child has loaded its tasks; raise WorkerError if one could not."""
        if not self._started.wait(timeout):
            raise WorkerError(f"worker processes did not start within {timeout:.0f}s")
        self.check()

    def check(self) -> None:
        """Raise WorkerError if the pool has stopped working."""
        if self._failure is not None:
            raise WorkerError(f"a worker process could not load the pipeline's tasks: {self._failure}")

    def submit(self, job: Job) -> None:
        """Queue a job; thread-safe."""
        with self._lock:
            was_empty = not self._queue
            self._queue.append(job)
        if was_empty:
            self._wake()

    def hold(self) -> list[int]:
        """Start no more jobs; returns the ids of the queued jobs, which will not run.

        Jobs already handed to a child run on; those queued behind a child that dies from now
        on are reported done with `["unstarted"]`. Submit nothing after this.
        """
        with self._lock:
            self._holding = True
            jobs, self._queue = list(self._queue), collections.deque()
        return [job.id for job in jobs]

    def cancel(self, job_id: int) -> None:
        """Cancel a job; thread-safe. It is reported done with `["canceled"]` unless it finishes first.

        A queued job is dropped; the child running it is killed (and replaced); one queued in a
        child's batch is reported canceled whatever it returns.
        """
        with self._lock:
            self._cancels.append(job_id)
        self._wake()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the children (after the job each is running; killed after `timeout`) and the dispatch thread."""
        if self._wake_w.closed:
            return
        self._stopping = True
        self._wake()
        deadline = time.monotonic() + timeout
        if self._thread is not None:
            self._thread.join(timeout)
        for child in self._children:
            child.process.join(max(0.0, deadline - time.monotonic()))
            if child.process.is_alive():
                child.process.kill()
                child.process.join()
        self._wake_r.close()
        self._wake_w.close()
        self._selector.close()

    @property
    def pids(self) -> list[int]:
        """Process ids of the current children."""
        return [c.process.pid for c in self._children if c.process.pid is not None]

    # -- dispatch thread ------------------------------------------------------

    def _wake(self) -> None:
        try:
            self._wake_w.send_bytes(b"")
        except OSError:
            pass  # already closed: stopping

    def _spawn(self) -> _Child:
        parent_end, child_end = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=child_main,
            args=(child_end, self._source, self._store, self._execute),
            name="pipeflow-worker",
            daemon=True,
        )
        process.start()
        child_end.close()
        child = _Child(process=process, conn=parent_end)
        self._selector.register(parent_end, selectors.EVENT_READ, ("message", child))
        self._selector.register(process.sentinel, selectors.EVENT_READ, ("death", child))
        return child

    def _loop(self) -> None:
        try:
            self._run_loop()
        except Exception:  # a bug here must not leave the worker hanging silently
            log.exception("worker pool dispatch thread crashed")
            self._failure = self._failure or "the dispatch thread crashed (see the log)"
            self._started.set()

    def _run_loop(self) -> None:
        rounds = 0  # rounds since on_round was last called
        while True:
            # Rounds follow one another without blocking while messages are waiting; on_round comes
            # when none is (or every MAX_BATCH rounds), so the results of a burst are answered together.
            ready = self._selector.select(0) if rounds < MAX_BATCH else []
            if not ready:
                self._on_round()
                rounds = 0
                if self._stopping:
                    for child in self._children:
                        try:
                            child.conn.send_bytes(pack(["stop"]))
                        except OSError:
                            pass
                    return
                ready = self._selector.select()
            rounds += 1
            for key, _ in ready:
                if key.data is None:
                    self._wake_r.recv_bytes()
                    continue
                kind, child = key.data
                if child not in self._children:
                    continue  # already buried in this round
                if kind == "message":
                    # One message per readiness: the selector reports the rest next round.
                    try:
                        self._handle(child, unpack(child.conn.recv_bytes()))
                    except (EOFError, OSError):
                        pass  # the sentinel reports the death
                else:
                    self._died(child)
            if self._cancels:
                self._cancel_jobs()
            self._dispatch()

    def _receive(self, child: _Child) -> None:
        try:
            while child.conn.poll():
                self._handle(child, unpack(child.conn.recv_bytes()))
        except (EOFError, OSError):
            pass  # the sentinel reports the death

    def _cancel_jobs(self) -> None:
        with self._lock:
            ids, self._cancels = self._cancels, []
            queued = {job.id for job in self._queue}
            dropped = [i for i in ids if i in queued]
            if dropped:
                self._queue = collections.deque(job for job in self._queue if job.id not in dropped)
        for job_id in dropped:
            self._on_done(job_id, ["canceled"])
        for job_id in set(ids) - set(dropped):
            child = next((c for c in self._children if any(job.id == job_id for job in c.jobs)), None)
            if child is None:
                continue  # finished meanwhile: its result was reported
            self._canceled.add(job_id)
            if child.jobs[0].id == job_id and not child.killed:
                child.killed = True
                log.info("killing worker process %s: its task was canceled", child.process.pid)
                child.process.kill()  # its sentinel reports the death; _died reports the job canceled

    def _handle(self, child: _Child, message: list[Any]) -> None:
        kind = message[0]
        if kind == "done":
            job = child.jobs.popleft()
            if job.id in self._canceled:
                self._canceled.discard(job.id)
                if not child.killed:  # ran to its end before the kill: the answer is that it was canceled
                    self._on_done(job.id, ["canceled"])
                    return
            self._on_done(job.id, message[2:])
        elif kind == "beat":
            self._on_beat(message[1], message[2])
        elif kind == "exit":
            child.leaving = True
        elif kind == "warn":
            log.warning("worker process %s: %s", child.process.pid, message[1])
        elif kind == "ready":
            child.ready = True
            if all(c.ready for c in self._children):
                self._started.set()
        elif kind == "fatal":
            self._failure = message[1]
            self._stopping = True
            self._started.set()

    def _died(self, child: _Child) -> None:
        self._receive(child)  # results it sent before dying still count
        self._selector.unregister(child.conn)
        self._selector.unregister(child.process.sentinel)
        child.conn.close()
        child.process.join()
        code = child.process.exitcode
        self._children.remove(child)
        if self._stopping:
            return  # stopped (killed if still busy) by `stop`: its caller answers for the jobs it holds
        if child.jobs:
            # Killed for a canceled job that finished just before: the next one had barely started, if at all.
            started = not child.leaving and not (child.killed and child.jobs[0].id not in self._canceled)
            running = child.jobs.popleft() if started else None
            canceled = [job for job in child.jobs if job.id in self._canceled]
            rest = [job for job in child.jobs if job.id not in self._canceled]
            with self._lock:
                unstarted = rest if self._holding else []
                if not self._holding:
                    self._queue.extendleft(reversed(rest))  # never started: run them elsewhere
            if running is not None and running.id in self._canceled:
                canceled.insert(0, running)
            elif running is not None:
                self._on_done(running.id, ["died", _describe_exit(code)])
            for job in canceled:
                self._canceled.discard(job.id)
                self._on_done(job.id, ["canceled"])
            for job in unstarted:
                self._on_done(job.id, ["unstarted"])
        if self._holding:
            return  # no job will start any more: no need for another child
        if not child.ready and self._failure is None:
            self._failure = f"a worker process exited while loading the tasks ({_describe_exit(code)})"
            self._stopping = True
            self._started.set()
            return
        if not child.killed:
            log.warning("worker process %s died (%s); starting another", child.process.pid, _describe_exit(code))
        self._children.append(self._spawn())

    def _dispatch(self) -> None:
        idle = [c for c in self._children if c.ready and not c.jobs]
        if not idle:
            return
        with self._lock:
            if not self._queue or self._holding:
                return
            size = max(1, min(MAX_BATCH, math.ceil(len(self._queue) / len(self._children))))
            batches = []
            for child in idle:
                if not self._queue:
                    break
                batch = [self._queue.popleft() for _ in range(min(size, len(self._queue)))]
                batches.append((child, batch))
        for child, batch in batches:
            child.jobs.extend(batch)
            try:
                child.conn.send_bytes(pack(["run", [job.message() for job in batch]]))
            except OSError:
                pass  # it died; its sentinel fires next and the jobs are handled there


def _default_method(registry: Registry) -> str:
    """fork where there is one, else spawn.

    A forked child has the tasks already: a script calling `pf.run` needs no
    `if __name__ == "__main__"` guard (spawn re-runs the main module), tasks
    defined in a notebook or a function work, and a child starts in
    milliseconds. The pool starts before pipeflow's own threads, and a child
    only runs tasks, so fork's trouble with threads does not reach it.
    """
    if "fork" in multiprocessing.get_all_start_methods():
        return "fork"
    if not registry.importable:
        raise WorkerError("tasks defined in a notebook or inside a function need the fork start method, "
                          "which this platform lacks; define them at module level in a file")
    return "spawn"


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
