"""Engine: the state machine behind one lock, with long polling, a timer thread and persistence."""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from ._client import EngineClient
from ._faults import SWFFault
from ._model import Limits, check_limits, operation_model, validate_params
from ._operations import apply, is_logged
from . import _snapshot as snapshot
from ._state import State
from ._store import Store

__all__ = ["Engine"]

# A restart that replays more log entries than this writes a snapshot at once.
_SNAPSHOT_AFTER = 10_000
_POLLS = {"PollForDecisionTask": "d", "PollForActivityTask": "a"}


class Engine:
    """An SWF-compatible engine in this process; ``db`` is a SQLite path, or None for memory."""

    def __init__(self, db: str | Path | None = None, poll_timeout: float = 60.0,
                 limits: Limits = Limits()) -> None:
        self.poll_timeout = poll_timeout
        self._lock = threading.Lock()
        self._conds: dict[tuple[str, tuple[str, str]], threading.Condition] = {}
        self._timer_cond = threading.Condition(self._lock)
        self._closed = False
        self._store = Store(db) if db is not None else None
        self._state = State(self._store.salt if self._store else secrets.token_hex(6), limits)
        self._unsnapped = 0  # log entries written since the last snapshot
        if self._store is not None:
            image = self._store.snapshot()
            if image is not None:
                self._state = snapshot.load(image, limits)
            for op, now, params in self._store.entries():
                apply(self._state, op, params, now)
                self._unsnapped += 1
            if self._unsnapped > _SNAPSHOT_AFTER:
                self._snapshot()
        self._timer = threading.Thread(target=self._run_timers, name="pipeflow-engine-timers", daemon=True)
        self._timer.start()

    # --- public
    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run one SWF operation with boto3's params; return boto3's response (no ResponseMetadata)."""
        validate_params(operation, params)
        shape = operation_model(operation).input_shape
        if shape is not None:
            check_limits(params, shape)
        kind = _POLLS.get(operation)
        if kind is not None and not params.get("nextPageToken"):
            return self._poll(operation, params, (kind, (params["domain"], params["taskList"]["name"])))
        with self._lock:
            if self._closed:
                raise SWFFault("ServiceUnavailable", "the engine is closed")
            return self._apply(operation, params)

    def client(self) -> EngineClient:
        """A boto3-shaped SWF client calling this engine."""
        return EngineClient(self)

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
            if self._store is not None:
                if self._unsnapped:
                    self._snapshot()
                self._store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # --- inside the lock
    def _snapshot(self) -> None:
        assert self._store is not None
        self._store.write_snapshot(snapshot.dump(self._state))
        self._unsnapped = 0

    def _apply(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        state = self._state
        before = state.next_deadline()
        now = time.time()
        response = apply(state, operation, params, now)
        if self._store is not None and is_logged(operation, params, response):
            self._store.append(operation, now, params)
            self._unsnapped += 1
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
                    return _empty(operation)
                response = self._apply(operation, params)
                if "taskToken" in response:
                    return response
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return response
                cond = self._conds.get(key)
                if cond is None:
                    cond = self._conds[key] = threading.Condition(self._lock)
                cond.wait(remaining)

    def _run_timers(self) -> None:
        state = self._state
        with self._lock:
            while not self._closed:
                due = state.next_deadline()
                now = time.time()
                if due is None:
                    self._timer_cond.wait()
                elif due > now:
                    self._timer_cond.wait(due - now)
                else:
                    state.woken = []
                    if state.advance(now) and self._store is not None:
                        self._store.append("_Advance", now, {})
                        self._unsnapped += 1
                    for key in state.woken:
                        cond = self._conds.get(key)
                        if cond is not None:
                            cond.notify()


def _empty(operation: str) -> dict[str, Any]:
    if operation == "PollForDecisionTask":
        return {"startedEventId": 0, "previousStartedEventId": 0, "events": []}
    return {}
