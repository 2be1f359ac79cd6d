"""`pipeflow worker` and `pipeflow decider`: long-running loops against an SWF endpoint, stopped by a signal."""

from __future__ import annotations

import functools
import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ._embedded import _definition, _Loop, default_store

log = logging.getLogger("pipeflow.run")


# -- long-running commands against an SWF endpoint ---------------------------------


def _swf_client(endpoint_url: str | None, region: str | None) -> Any:
    from ..endpoint import swf_client

    return swf_client(endpoint_url=endpoint_url, region=region)


# How long a stopping process waits for a poll in flight: what the poll brings is handed back
# (worker) or answered (decider) rather than left to time out. SWF holds a poll up to 60 s.
POLL_WAIT = 65.0
DEFAULT_GRACE = 60.0  # seconds a stopping worker lets its running tasks finish


@contextmanager
def _until_signalled() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM; a second signal raises KeyboardInterrupt (exit 130)."""
    stop = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()  # the waiting thread logs what it waits for (logging in a handler can deadlock)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _join(loops: list[_Loop], deadline: float | None = None) -> None:
    """Wait for the loops to end (or the deadline to pass), waking often enough to see a signal."""
    while any(loop.is_alive() for loop in loops):
        if deadline is not None and time.monotonic() >= deadline:
            return
        for loop in loops:
            loop.join(timeout=0.2)


def _raise_error(loops: list[_Loop]) -> None:
    for loop in loops:
        if loop.error is not None:
            raise loop.error


def serve_worker(
    targets: list[str],
    *,
    domain: str,
    task_list: str | None,
    processes: int | None,
    endpoint_url: str | None,
    region: str | None,
    store: str | None,
    grace: float = DEFAULT_GRACE,
    poll_wait: float = POLL_WAIT,
    pollers: int = 1,
) -> None:
    """`pipeflow worker`: run the tasks of the given files against an SWF endpoint until signalled.

    `store` is the worker's store (default ./.pipeflow/payloads here): its runs' stores must lie
    under it, and it offloads the large values of runs started without one.

    On SIGTERM or SIGINT no new poll starts; tasks not started are handed back at once (the
    decider schedules them again without spending a retry), as is whatever a poll in flight
    brings; running tasks finish and are reported, or after `grace` seconds are killed and
    handed back. A second signal exits at once.
    """
    import os

    from .._loader import load_targets, tasks_of
    from ..worker import Registry, Worker

    loaded = [item for target in targets for item in load_targets(target)]
    registry = Registry.from_tasks(task for item in loaded for task in tasks_of(item.target))
    store = default_store(store)
    swf = _swf_client(endpoint_url, region)
    # A task with its own task_list is scheduled there, the others on their pipeline's list.
    lists = {task_list} if task_list else (
        {_definition(item).task_list for item in loaded} | {t.task_list for t in registry.tasks.values() if t.task_list}
    )
    with _until_signalled() as stop:
        workers = [Worker(swf, domain, name, registry, processes=processes, store=store, pollers=pollers) for name in sorted(lists)]
        loops = [
            _Loop(f"pipeflow-worker-{w.task_list}", functools.partial(w.run, drain_timeout=grace, poll_wait=poll_wait),
                  stop)
            for w in workers
        ]
        try:
            for loop in loops:
                loop.start()
            while not stop.wait(0.2):
                pass
            if not any(loop.error for loop in loops):
                held, polls = (sum(counts) for counts in zip(*(w.waiting_for() for w in workers)))
                log.warning(
                    "stopping (signal again to exit now): waiting for %d task(s) in hand (up to %gs, then handed "
                    "back) and %d poll(s) in flight (up to %gs); tasks not started are handed back",
                    held, grace, polls, poll_wait,
                )
            _join(loops)
        except KeyboardInterrupt:
            # The second signal: leave now. Kill the pools' processes (they ignore SIGTERM, which
            # would hang multiprocessing's exit); the tasks they held time out on SWF's side.
            for pid in (pid for w in workers for pid in w.pids):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            raise
        _raise_error(loops)


def serve_decider(
    targets: list[str], *, domain: str, task_list: str | None, endpoint_url: str | None, region: str | None,
    poll_wait: float = POLL_WAIT, pollers: int = 1, store: str | None = None,
) -> None:
    """`pipeflow decider`: decide the executions of the given pipelines until signalled.

    `store` is the decider's store (default ./.pipeflow/payloads here): a run naming a store
    that does not lie under it fails, saying so.

    On SIGTERM or SIGINT it finishes the decision task in hand and answers what its poll in
    flight brings (up to `poll_wait` seconds), then returns. A second signal exits at once.
    """
    from .._loader import load_targets

    # The files first: a mistake in them is the likeliest error and the one to report.
    definitions = [_definition(item) for target in targets for item in load_targets(target)]
    from ..decider import DeciderLoop

    store = default_store(store)
    swf = _swf_client(endpoint_url, region)
    lists = {task_list} if task_list else {d.task_list for d in definitions}
    with _until_signalled() as stop:
        loops = [_Loop(f"pipeflow-decider-{name}",
                       functools.partial(DeciderLoop(swf, domain, name, definitions, store=store).run,
                                         pollers=pollers), stop)
                 for name in sorted(lists)]
        for loop in loops:
            loop.start()
        while not stop.wait(0.2):
            pass
        if not any(loop.error for loop in loops):
            log.warning("stopping (signal again to exit now): answering the decision task in hand and what "
                        "the poll in flight brings (up to %gs)", poll_wait)
        # A decision task left unanswered would wait for its timeout before another decider got it.
        _join(loops, deadline=time.monotonic() + poll_wait)
        _raise_error(loops)
