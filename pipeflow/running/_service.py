"""What a `Client` runs in the background: deciders and workers, and the embedded engine it holds.

`Service.serve(pipeline)` makes sure a decider answers the pipeline's decision task list and a
worker (a process pool) runs its tasks on each of its activity task lists, on daemon threads of
this process, until `close()`. Pipelines come and go in a notebook: a decider learns a new
workflow type in place; a worker, whose processes were forked with the tasks known then, is
replaced by one that knows the new tasks (or the new code of a task defined again in a cell),
and the old one is retired: tasks it has not started are handed back (the decider schedules them
again without spending a retry), running ones get `DRAIN` seconds before they are handed back too.

`Holder` is the embedded engine of one state directory: opened by the first Client of this
process that needs it, closed with the last (`hold`/`release`), its Service beside it. One process
holds an embedded state at a time, so the holder answers the others through the control inbox
(`pipeflow.running.Inbox`): `pipeflow cancel/signal/runs/status/...` from a terminal reach it.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import EngineError
from ._embedded import _Loop
from ._executions import DOMAIN, register_domain, task_lists

log = logging.getLogger("pipeflow.client")

DRAIN = 2.0  # seconds a retired or closing worker lets its running tasks finish before handing them back
INBOX_EVERY = 0.05  # seconds between looks at the control inbox (a directory listing) by a holder


@dataclass
class _Piece:
    """One background loop with its own stop event (a decider, or a worker and its pool)."""

    loop: _Loop
    stop: threading.Event
    runner: Any  # the DeciderLoop or the Worker
    tasks: dict[tuple[str, str], Any] = field(default_factory=dict)  # a worker's registry


class Service:
    """Deciders by decision task list and workers by activity task list, for `swf`'s domain.

    `store` is their own store: the runs they serve must name a store under it (or none).
    """

    def __init__(self, swf: Any, domain: str, *, processes: int | None, store: str | None = None) -> None:
        self.swf = swf
        self.domain = domain
        self.processes = processes
        self.store = store
        self._deciders: dict[str, _Piece] = {}
        self._workers: dict[str, _Piece] = {}
        self._retired: list[_Piece] = []
        self._lock = threading.Lock()
        self._closed = False

    def serve(self, definition: Any) -> None:
        """Decide the pipeline's runs and run its tasks (its types must be registered)."""
        from .._loader import tasks_of
        from ..decider import DeciderLoop
        from ..worker import Registry, Worker

        with self._lock:
            if self._closed:
                raise RuntimeError("the client's background service is closed")
            decider = self._deciders.get(definition.task_list)
            if decider is None:
                runner = DeciderLoop(self.swf, self.domain, definition.task_list, [definition], store=self.store)
                self._deciders[definition.task_list] = self._start(f"pipeflow-decider-{definition.task_list}",
                                                                   runner.run, runner)
            else:
                decider.runner.decider.pipelines[(definition.name, definition.version)] = definition
            registry = Registry.from_tasks(tasks_of(definition))
            for name in task_lists(definition, registry):
                current = self._workers.get(name)
                known = current.tasks if current is not None else {}
                if all(known.get(key) is task for key, task in registry.tasks.items()):
                    continue
                tasks = {**known, **registry.tasks}
                # The service's store: a run's own store must lie under it (a task input never picks one).
                worker = Worker(self.swf, self.domain, name, Registry(tasks), processes=self.processes,
                                store=self.store)
                worker.start()
                piece = self._start(f"pipeflow-worker-{name}", functools.partial(worker.run, drain_timeout=DRAIN),
                                    worker)
                piece.tasks = tasks
                self._workers[name] = piece
                if current is not None:
                    current.stop.set()  # hands back what it holds; the new worker takes it
                    self._retired.append(current)

    def _start(self, name: str, target: Any, runner: Any) -> _Piece:
        stop = threading.Event()
        loop = _Loop(name, target, stop)
        loop.start()
        return _Piece(loop, stop, runner)

    def serves(self, workflow_type: dict[str, str], task_list: str | None = None) -> bool:
        """True when a decider here knows the workflow type `{"name", "version"}` (on `task_list`, if given)."""
        return self.served(workflow_type, task_list) is not None

    def served(self, workflow_type: dict[str, str], task_list: str | None = None) -> Any:
        """The pipeline of that workflow type a decider here knows (on `task_list`, if given), or None."""
        key = (workflow_type["name"], workflow_type["version"])
        with self._lock:
            for name, piece in self._deciders.items():
                if task_list is None or name == task_list:
                    found = piece.runner.decider.pipelines.get(key)
                    if found is not None:
                        return found
        return None

    def check(self) -> None:
        """Raise the error that stopped a decider or a worker, if one did."""
        with self._lock:
            pieces = [*self._deciders.values(), *self._workers.values()]
        for piece in pieces:
            if piece.loop.error is not None:
                raise piece.loop.error

    def stop(self) -> None:
        """Tell every loop to stop (the engine's close then wakes their long polls)."""
        with self._lock:
            self._closed = True
            for piece in self.pieces():
                piece.stop.set()

    def join_workers(self, timeout: float = 30.0) -> None:
        """Wait for the stopped workers to hand back what they hold, then stop their processes.

        Their polls in flight are not waited for (the embedded engine's close wakes them; on a
        remote endpoint what they receive later times out on SWF's side and is retried).
        """
        for piece in [*self._workers.values(), *self._retired]:
            piece.loop.join(timeout=timeout)
            piece.runner.close()

    def join_deciders(self, timeout: float = 30.0) -> None:
        """Wait for the stopped deciders (their long polls must have been woken: the engine closed)."""
        for piece in self._deciders.values():
            piece.loop.join(timeout=timeout)

    def pieces(self) -> list[_Piece]:
        return [*self._deciders.values(), *self._workers.values(), *self._retired]

    @property
    def pids(self) -> list[int]:
        """The worker processes' ids (for tests and diagnostics)."""
        return [pid for piece in self._workers.values() for pid in piece.runner.pids]


# -- the embedded engine of a state directory, held for the Clients of this process -----------------


class Holder:
    """The embedded engine of one state directory, held by this process for the Clients that use it.

    `db` None: an engine in memory, of one Client's own (`hold_memory`): no inbox, nothing shared.
    """

    def __init__(self, db: Path | None, engine: Any, store: str | None = None) -> None:
        from ._inbox import Inbox

        self.db = db
        self.engine = engine
        # The runs started here go on task lists of this session's own (`<list>.<session>`): a later
        # holder (a new kernel after this one was killed) never works them unasked.
        self.session = uuid.uuid4().hex[:12]
        self.swf = engine.client()
        # The domain exists from the start: a new state lists no runs rather than an unknown domain.
        register_domain(self.swf, DOMAIN)
        self.service = Service(self.swf, DOMAIN, processes=None, store=store)
        self.users = 0
        self._stop = threading.Event()
        self._inbox = Inbox(db.parent / "control", self.swf, DOMAIN) if db is not None else None
        self._thread = threading.Thread(target=self._serve_inbox, name="pipeflow-inbox", daemon=True)
        if self._inbox is not None:
            self._thread.start()

    def _serve_inbox(self) -> None:
        """`pipeflow cancel/signal` and the inspection commands of other processes, answered here."""
        assert self._inbox is not None
        while not self._stop.wait(INBOX_EVERY):
            try:
                self._inbox.serve()
            except Exception:  # one bad request must not end the service
                log.exception("serving the control inbox %s failed", self._inbox.directory)

    def close(self) -> None:
        """Stop serving the inbox, stop the deciders and workers, close the engine (the state is free)."""
        self._stop.set()
        if self._inbox is not None:
            self._thread.join(timeout=10)  # a request in hand is answered first
        self.service.stop()
        self.service.join_workers()  # their hand-backs reach the engine: a later holder reschedules them at once
        self.engine.close()  # wakes the long polls, so the loops see their stop
        self.service.join_deciders()


_holders: dict[Path, Holder] = {}
_holders_lock = threading.Lock()


def hold(db: Path, store: str | None = None) -> Holder | None:
    """This process's holder of the state `db` (opened now if needed), or None when another process holds it.

    `store` is the store its deciders and workers use, when it is opened now.
    """
    from ..engine import Engine

    with _holders_lock:
        holder = _holders.get(db)
        if holder is None:
            if held(db):  # a look that does not wait for the lock, as opening the engine would
                return None
            try:
                engine = Engine(db=str(db))
            except EngineError:
                return None
            from ._embedded import adopt

            adopt(engine)  # what the state's last holder (a killed kernel or `pipeflow run`) started is lost
            holder = _holders[db] = Holder(db, engine, store)
        holder.users += 1
        return holder


def hold_memory(store: str | None = None, *, timer_scale: float = 1.0) -> Holder:
    """A new holder of an embedded engine in memory, for one Client (tests, throwaway work).

    `timer_scale` multiplies every timer (retry back-off, pauses): 0 makes them fire at once.
    """
    from ..engine import Engine, Limits

    holder = Holder(None, Engine(limits=Limits(timer_scale=timer_scale)), store)
    holder.users = 1
    return holder


def release(holder: Holder) -> None:
    """One Client fewer uses the holder; the last one closes it."""
    with _holders_lock:
        holder.users -= 1
        if holder.users > 0:
            return
        if holder.db is not None:
            _holders.pop(holder.db, None)
    holder.close()
def held(db: Path) -> bool:
    """True while another process holds the engine's database (its exclusive lock); asks without waiting."""
    try:
        con = sqlite3.connect(f"file:{db}?mode=rw", uri=True, timeout=0, isolation_level=None)
    except sqlite3.OperationalError:
        return False  # gone: opening the engine says so
    try:
        con.execute("BEGIN IMMEDIATE")
        con.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        con.close()

