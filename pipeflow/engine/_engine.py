"""Engine: the state machine behind one lock, with long polling, a timer thread and persistence."""

from __future__ import annotations

import logging
import secrets
import sqlite3
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from ._client import EngineClient
from ._closed import StoredClosed
from ._faults import SWFFault
from ._model import Limits
from ._operations import apply, is_logged, may_change
from . import _snapshot as snapshot
from ._state import State
from ._recover import recover as recover_store
from ._store import Store, StoreDamaged
from ._validate import validate

__all__ = ["Engine"]

logger = logging.getLogger("pipeflow.engine")

# A restart that replays more log entries than this writes a snapshot at once.
_SNAPSHOT_AFTER = 10_000
DEFAULT_REGION = "us-east-1"
REFUSE_AFTER_FAILED_COMMIT = 0.5  # seconds changes are refused at once after a commit failed
_POLLS = {"PollForDecisionTask": "d", "PollForActivityTask": "a"}


class Engine:
    """An SWF-compatible engine in this process; ``db`` is a SQLite path, or None for memory."""

    def __init__(self, db: str | Path | None = None, poll_timeout: float = 60.0,
                 limits: Limits = Limits(), *, recover: bool = False, region: str = DEFAULT_REGION,
                 sync: str = "normal", fold_at_close: int = 0) -> None:
        """`recover`: first set a damaged ``db`` aside and keep what verifies (see ``recovery``).

        `sync`: when a call's change is durable before it is answered: "normal" (the default)
        against a killed process, "full" against a crash of the machine (an fsync per change;
        `pipeflow server` uses it).

        `region`: the region ARNs name when a call does not say its own (a signed request does).

        `fold_at_close`: a clean close folds the log into a snapshot only when it holds more than
        this many entries (0: always). A snapshot holds what is open; the runs closed since the
        last one go to rows of their own, read back only when a call names them, so neither
        folding nor opening costs more as closed runs pile up (``_closed``).
        """
        self.poll_timeout = poll_timeout
        self.region = region
        self.recovery: str | None = None  # what `recover` kept and dropped
        self._lock = threading.Lock()
        self._conds: dict[tuple[str, tuple[str, str]], threading.Condition] = {}
        self._timer_cond = threading.Condition(self._lock)
        self._closed = False
        self._limits = limits
        self._store: Store | None = None
        self._stored: StoredClosed | None = None  # closed runs in the database, read when a call names them
        self._state = State(secrets.token_hex(6), limits)
        self._unsnapped = 0  # log entries written since the last snapshot
        self._stale = False  # memory ran ahead of a failed commit: rebuild it from the database first
        self._sync = sync
        self._fold_at_close = fold_at_close
        # After a refused commit (a full disk), changes are refused at once for a moment: each
        # attempt would cost a rebuild of the state from the database.
        self._refusing_until = 0.0
        self._refused = ""
        # Group commit (sync="full" with a database): calls stage their log rows under the lock and
        # wait, without it, until a batch holding them is committed; one of them commits the batch.
        # Positions count staged rows and never go back; a failed batch ends a generation: memory
        # is rebuilt from the database, and a position of an ended generation is durable only up
        # to where that generation's commits reached.
        self._group = db is not None and sync == "full"
        self._staged = 0  # position of the last row staged (what memory holds)
        self._durable = 0  # position up to which this generation's rows are committed
        self._generation = 0
        self._ended: dict[int, int] = {}  # generation -> its last durable position (recent ones)
        self._committing = False
        self._durable_cond = threading.Condition(self._lock)
        self._batching = False  # inside _batch's one_commit: rows are staged, committed together at its end
        if db is not None:
            try:
                self._open(Path(db))
            except StoreDamaged:
                if not recover:
                    raise
                self.recovery = recover_store(Path(db))
                self._open(Path(db))
            else:
                if recover:
                    self.recovery = f"{db} verifies: nothing to recover"
            if self._unsnapped > _SNAPSHOT_AFTER or self._legacy:
                self._snapshot()
        self._timer = threading.Thread(target=self._run_timers, name="pipeflow-engine-timers", daemon=True)
        self._timer.start()

    # --- public
    def call(self, operation: str, params: dict[str, Any], *, region: str | None = None) -> dict[str, Any]:
        """Run one SWF operation with boto3's params; return boto3's response (no ResponseMetadata).

        `region`: the caller's (from its signature's scope), named in the ARNs of the answer.
        """
        validate(operation, params)
        kind = _POLLS.get(operation)
        if kind is not None and not params.get("nextPageToken"):
            return self._poll(operation, params, (kind, (params["domain"], params["taskList"]["name"])))
        with self._lock:
            if self._closed:
                raise SWFFault("ServiceUnavailable", "the engine is closed")
            try:
                return self._apply(operation, params, region)
            finally:
                self._settle()

    def internal(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run one of the engine's own operations (`_FailLost`, `_CloseCanceled`): logged like SWF's, not in its API."""
        if not operation.startswith("_"):
            raise ValueError(f"{operation} is an SWF operation: use call()")
        with self._lock:
            if self._closed:
                raise SWFFault("ServiceUnavailable", "the engine is closed")
            try:
                return self._apply(operation, params)
            finally:
                self._settle()

    def client(self) -> EngineClient:
        """A boto3-shaped SWF client calling this engine."""
        return EngineClient(self)

    @property
    def held_runs(self) -> int:
        """Executions in memory: the open ones and those closed since the last snapshot (the others stay on disk)."""
        with self._lock:
            return len(self._state.runs)

    def close(self) -> None:
        """Wake every poller (empty answers), stop the timer thread, close the database."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for cond in self._conds.values():
                cond.notify_all()
            self._timer_cond.notify_all()
        self._timer.join()
        with self._lock:
            if self._group:
                try:  # what was staged and not yet committed (a timeout nobody was answered about)
                    self._await_durable(self._generation, self._staged)
                except SWFFault as fault:
                    logger.warning("the last changes were not saved: %s", fault.message)
            if self._store is not None:
                if self._unsnapped > self._fold_at_close:
                    self._snapshot()
                self._store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _open(self, db: Path) -> None:
        store = Store(db, self._sync)
        self._store = store
        self._stored = StoredClosed(store, self._before_closed_read)
        self._legacy = False  # the snapshot is of a format that holds closed runs: fold them out at once
        try:
            self._state, self._unsnapped = self._load()
        except BaseException:
            self._store = self._stored = None
            store.close()
            raise

    def _before_closed_read(self) -> None:
        """Inside the lock: let a group commit using the database finish (the lock is let go meanwhile)."""
        while self._committing:
            self._durable_cond.wait()

    # --- inside the lock
    def _load(self) -> tuple[State, int]:
        """The state the database holds (its snapshot plus the log after it), and the entries replayed."""
        assert self._store is not None
        image = self._store.snapshot()
        state = snapshot.load(image, self._limits) if image is not None else State(self._store.salt, self._limits)
        if self._stored is not None:
            state.closed = self._stored
        self._legacy = image is not None and "closed" not in image and any(not ex.open for ex in state.runs.values())
        replayed = 0
        for op, now, params in self._store.entries():
            apply(state, op, params, now)
            replayed += 1
        return state, replayed

    def _rebuild(self) -> None:
        """Replace memory, which holds a change the database refused, by what the database holds."""
        self._stale = True
        try:
            self._state, self._unsnapped = self._load()
        except (sqlite3.Error, OSError, StoreDamaged) as exc:
            logger.warning("cannot reload the state from the database yet: %s", exc)
            return
        self._stale = False

    def _commit(self, operation: str, now: float, params: dict[str, Any]) -> None:
        """Append one entry, or undo its change in memory and answer a retryable fault.

        Under group commit the entry is only staged: the caller's _settle() waits for its batch.
        """
        assert self._store is not None
        if self._batching:  # committed with the rest of its batch by _batch (nothing else runs meanwhile)
            self._store.stage(operation, now, params)
            self._unsnapped += 1
            return
        if self._group:
            self._store.stage(operation, now, params)
            self._staged += 1
            self._unsnapped += 1
            return
        try:
            self._store.append(operation, now, params)
        except (sqlite3.Error, OSError) as exc:
            self._refuse(exc)
            raise SWFFault("ServiceUnavailable", self._refused) from exc
        self._unsnapped += 1

    def _refuse(self, exc: BaseException) -> None:
        """A commit failed: memory goes back to what the database holds; changes are refused a moment."""
        self._rebuild()
        self._refusing_until = time.monotonic() + REFUSE_AFTER_FAILED_COMMIT
        self._refused = f"the change could not be saved ({exc}); nothing was changed, retry later"

    def _settle(self) -> None:
        """Before a call is answered: wait until everything the state it saw holds is committed.

        Inside the lock; the lock is released while waiting (never held across a commit). Raises
        the retryable ServiceUnavailable when that state was lost to a failed commit.
        """
        if self._group:
            self._await_durable(self._generation, self._staged)

    def _await_durable(self, generation: int, position: int) -> None:
        assert self._store is not None
        while True:
            if generation != self._generation:  # a batch failed since: memory was rebuilt
                if position <= self._ended.get(generation, -1):
                    return
                raise SWFFault("ServiceUnavailable", self._refused)
            if position <= self._durable:
                return
            if self._committing:
                self._durable_cond.wait()
                continue
            # Lead: commit everything staged so far, outside the lock.
            self._committing = True
            rows, end = self._store.take(), self._staged
            error: BaseException | None = None
            self._lock.release()
            try:
                self._store.write(rows)
            except BaseException as exc:  # sqlite3.Error, OSError (a full disk), anything: the batch is lost
                error = exc
            finally:
                self._lock.acquire()
                self._committing = False
                self._durable_cond.notify_all()
            if error is None:
                self._durable = end
                continue
            # Every row staged since the last good batch (this batch's and the ones staged on top of
            # it meanwhile) is lost, and so is every state a caller saw since: end the generation.
            self._store.discard()
            self._ended[self._generation] = self._durable
            self._ended.pop(self._generation - 64, None)
            self._generation += 1
            self._durable = self._staged
            self._refuse(error)
            if not isinstance(error, Exception):  # KeyboardInterrupt, SystemExit: handled, then on its way
                raise error

    def _snapshot(self) -> None:
        assert self._store is not None
        if self._stale or self._store.pending or self._committing:
            return  # memory holds a change the log refused or has not committed yet: never in a snapshot
        state = self._state
        try:
            self._store.write_snapshot(snapshot.dump(state, stored=True), snapshot.closed_rows(state), state.purged)
        except (sqlite3.Error, OSError) as exc:  # the log still holds everything: try again later
            logger.warning("cannot write a snapshot: %s", exc)
            return
        self._unsnapped = 0
        self._legacy = False
        snapshot.evict(state)  # the closed runs are in their rows now, read back when a call names them
        if self._stored is not None:
            self._stored.forget()

    def _apply(self, operation: str, params: dict[str, Any], region: str | None = None) -> dict[str, Any]:
        if self._refusing_until and may_change(operation):
            if time.monotonic() < self._refusing_until:
                raise SWFFault("ServiceUnavailable", self._refused)
            self._refusing_until = 0.0
        if self._stale:
            self._rebuild()
            if self._stale:
                raise SWFFault("ServiceUnavailable", "the engine cannot read its database; retry later")
        state = self._state
        state.registry.region = region or self.region  # what the answer's ARNs name
        before = state.next_deadline()
        now = time.time()
        response = apply(state, operation, params, now)
        if self._store is not None and is_logged(operation, params, response):
            self._commit(operation, now, params)
        for key in state.woken:
            cond = self._conds.get(key)
            if cond is not None:
                cond.notify()
        after = state.next_deadline()
        if after is not None and (before is None or after < before):
            self._timer_cond.notify()
        return response

    def _poll(self, operation: str, params: dict[str, Any], key: tuple[str, tuple[str, str]]) -> dict[str, Any]:
        deadline = time.monotonic() + self.poll_timeout
        with self._lock:
            while True:
                if self._closed:
                    self._settle()
                    return _empty(operation)
                try:
                    response = self._apply(operation, params)
                except SWFFault:
                    self._settle()  # a refusal may tell of a change not yet committed
                    raise
                if "taskToken" in response:
                    self._settle()
                    return response
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._settle()
                    return response
                cond = self._conds.get(key)
                if cond is None:
                    cond = self._conds[key] = threading.Condition(self._lock)
                cond.wait(remaining)

    def _run_timers(self) -> None:
        with self._lock:
            while not self._closed:
                if self._stale:
                    self._rebuild()
                    if self._stale:
                        self._timer_cond.wait(1.0)
                        continue
                state = self._state  # a new object after a rebuild
                due = state.next_deadline()
                now = time.time()
                if due is None:
                    self._timer_cond.wait()
                elif due > now:
                    self._timer_cond.wait(due - now)
                else:
                    state.woken = []
                    if state.advance(now) and self._store is not None:
                        try:
                            self._commit("_Advance", now, {})
                        except SWFFault as fault:
                            logger.warning("timeouts not applied: %s", fault.message)
                            self._timer_cond.wait(1.0)  # a full disk: no busy loop
                            continue
                    for key in state.woken:
                        cond = self._conds.get(key)
                        if cond is not None:
                            cond.notify()
                    if self._group:  # the pollers woken wait for it too; commit it without them
                        try:
                            self._settle()
                        except SWFFault as fault:
                            logger.warning("timeouts not applied: %s", fault.message)
                            self._timer_cond.wait(1.0)
                            continue


def _empty(operation: str) -> dict[str, Any]:
    if operation == "PollForDecisionTask":
        return {"startedEventId": 0, "previousStartedEventId": 0, "events": []}
    return {}
