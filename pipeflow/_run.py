"""`pf.run` and the commands that run pipelines: the embedded engine, a decider thread, the worker.

There is no shortcut path: `pf.run` starts the embedded SWF-compatible engine
in this process, a decider loop on a thread and a worker with its process
pool, submits one execution and waits for it to close, exactly as the same
pipeline runs on Amazon SWF.
"""

from __future__ import annotations

import functools
import json
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Interrupted", "RunOutcome", "adopt", "close_canceled", "default_store", "own_task_list", "register", "result_json", "run", "run_file", "serve_decider", "serve_worker", "session_list", "start",
    "task_lists", "interrupted_run", "wait", "wait_closed", "wait_here",
]

log = logging.getLogger("pipeflow.run")

STATE_DIR = Path(".pipeflow")
STATE_DB = STATE_DIR / "state.sqlite"
PAYLOADS = STATE_DIR / "payloads"
DOMAIN = "pipeflow"


class _Default:
    def __repr__(self) -> str:
        return "<default>"


DEFAULT: Any = _Default()  # "use ./.pipeflow/payloads", where None means "no store"


def default_store(store: str | None) -> str:
    """A process's own store: `store` (--store, PIPEFLOW_STORE), else ./.pipeflow/payloads here, as an absolute path.

    A worker, decider or resume uses the store a run names only when it lies under this one.
    """
    return store or str(PAYLOADS.resolve())


@dataclass(frozen=True)
class RunOutcome:
    """A completed run: its ids and its decoded result."""

    workflow_id: str
    run_id: str
    result: Any


class Interrupted(KeyboardInterrupt):
    """Ctrl-C while a run was waited for: the run stays open, for `pipeflow resume` to adopt."""

    def __init__(self, workflow_id: str, run_id: str) -> None:
        super().__init__(run_id)
        self.workflow_id = workflow_id
        self.run_id = run_id


def own_task_list(definition: Any, task_list: str | None = None) -> Any:
    """The pipeline on a task list of its own (`task_list`, else a new one): a run works only its own tasks.

    Runs of one embedded state share its engine; on a shared list a run would work the tasks of
    another (an interrupted one) that nobody asked it to.
    """
    from ._pipeline import Pipeline

    name = task_list or session_list(definition, uuid.uuid4().hex[:12])
    if name == definition.task_list:
        return definition
    own = Pipeline(definition.canvas, name=definition.name, version=definition.version,
                   input_converter=definition.input_converter, timeout=definition.timeout, task_list=name)
    # The lists its tasks name get the same suffix: `<list>.<12 hex>` (from a name made here).
    base, _, suffix = name.rpartition(".")
    if base and len(suffix) == 12 and all(c in "0123456789abcdef" for c in suffix):
        object.__setattr__(own, "list_suffix", f".{suffix}")
    return own


def session_list(definition: Any, session: str) -> str:
    """The pipeline's task list for one run or one process's session (`session`: 12 hex digits)."""
    suffix = definition.list_suffix
    base = definition.task_list[:-len(suffix)] if suffix else definition.task_list  # a run's or session's own
    return f"{base[:230]}.{session}"


def adopt(engine: Any, domain: str = DOMAIN) -> int:
    """Fail as lost, at once, the tasks a previous holder of this embedded state started; how many.

    One process holds an embedded state at a time (the database's exclusive lock, which the OS
    drops when the process dies), and only its own decider and workers work it: whatever was
    started before this process opened it was started by a process that is gone. The reason
    marks them handed back, so the decider schedules them again without spending a retry.
    """
    from ._wire import HANDBACK

    message = "lost: the process running it is gone (it was killed or interrupted)"
    details = json.dumps({"type": "Lost", "message": message, "traceback": None})
    response = engine.internal("_FailLost", {"domain": domain, "reason": f"{HANDBACK}: {message}", "details": details})
    lost = int(response["lost"])
    if lost:
        log.warning("%d task(s) started by a process that is gone were failed as lost; they run again when their "
                    "run is resumed", lost)
    return lost


def close_canceled(engine: Any, execution: dict[str, str], reason: str | None, domain: str = DOMAIN) -> None:
    """Close an open run that no process decides as CANCELED, with its open tasks."""
    details = json.dumps({"reason": reason}) if reason else ""
    engine.internal("_CloseCanceled", {"domain": domain, **execution, "details": details})


def run(
    pipeline: Any,
    input: Any = None,
    *,
    store: str | None = DEFAULT,
    workers: int | None = None,
    progress: bool = False,
) -> Any:
    """Run a pipeline on the embedded engine in this process and return its result.

    Raises `TaskFailed` (step, task, error, run id) when a step fails for good.
    """
    return run_embedded(pipeline, input, store=store, workers=workers, progress=progress).result


def run_file(loaded: Any, input: Any, *, store: str | None, workers: int | None, progress: bool) -> RunOutcome:
    """`pipeflow run`: the loaded pipeline on the embedded engine, state kept in ./.pipeflow/."""
    STATE_DIR.mkdir(mode=0o700, exist_ok=True)
    return run_embedded(
        loaded.target, input, store=DEFAULT if store is None else store, workers=workers,
        progress=progress, db=str(STATE_DB), attr=loaded.attr,
    )


def run_embedded(
    pipeline: Any,
    input: Any,
    *,
    store: str | None = DEFAULT,
    workers: int | None = None,
    progress: bool = False,
    db: str | None = None,
    attr: str | None = None,
) -> RunOutcome:
    """Start engine, decider and worker; submit one execution; wait for it; stop everything.

    `attr` is the attribute a bare canvas was loaded from: it names the workflow type.
    """
    from ._pipeline import as_pipeline

    definition = as_pipeline(pipeline, attr=attr)
    if db is not None:  # a state other processes' runs share
        definition = own_task_list(definition)
    if store is DEFAULT:
        PAYLOADS.mkdir(mode=0o700, parents=True, exist_ok=True)
        store = str(PAYLOADS.resolve())
    started: tuple[str, str] | None = None
    with interrupted_run(lambda: started):
        with _embedded(definition, store=store, workers=workers, db=db) as embedded:
            started = start(embedded.swf, DOMAIN, definition, input, store=store)
            return wait_here(embedded, *started, store, db=db, progress=progress)


@contextmanager
def interrupted_run(started: Callable[[], tuple[str, str] | None]) -> Iterator[None]:
    """Ctrl-C once the run `started()` names exists, wherever it comes, as `Interrupted` for that run."""
    try:
        yield
    except Interrupted:
        raise
    except KeyboardInterrupt:
        ids = started()
        if ids is None:
            raise
        raise Interrupted(*ids) from None


def wait_here(embedded: _Embedded, workflow_id: str, run_id: str, root: str | None, *, db: str | None,
              progress: bool) -> RunOutcome:
    """Wait for a run the embedded engine here decides and works; Ctrl-C leaves it open (`Interrupted`).

    With a state file (`db`), `pipeflow cancel/signal` from elsewhere leave requests for this
    process, which holds the state, and are served while waiting.
    """
    swf = embedded.swf
    reporter = _progress(swf, workflow_id, run_id) if progress else None
    check = embedded.check
    if db is not None:
        from ._control import Inbox

        check = Inbox(Path(db).parent / "control", swf, DOMAIN).wrap(check)
    try:
        return RunOutcome(workflow_id, run_id, wait(swf, DOMAIN, workflow_id, run_id, root, check=check))
    except KeyboardInterrupt:
        embedded.interrupted = True
        raise Interrupted(workflow_id, run_id) from None
    finally:
        if reporter is not None:
            reporter.close()


class _Loop(threading.Thread):
    """A polling loop on a daemon thread that keeps the exception that ended it."""

    def __init__(self, name: str, target: Any, stop: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self._target_loop = target
        self._stop_event = stop
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_loop(self._stop_event)
        except BaseException as exc:  # handed to the waiting thread, which raises it
            self.error = exc
            self._stop_event.set()


@dataclass
class _Embedded:
    """The running pieces of an embedded run."""

    swf: Any
    loops: list[_Loop]
    interrupted: bool = False  # the run stays open: what its workers hold is left for the next holder

    def check(self) -> None:
        """Raise the error that stopped the decider or the worker, if one did."""
        for loop in self.loops:
            if loop.error is not None:
                raise loop.error


@contextmanager
def _embedded(definition: Any, *, store: str | None, workers: int | None, db: str | None) -> Iterator[_Embedded]:
    from ._loader import tasks_of
    from .decider import DeciderLoop
    from .engine import Engine
    from .worker import Registry, Worker

    registry = Registry.from_tasks(tasks_of(definition))
    # A task with its own task_list is scheduled there: one worker per list.
    lists = task_lists(definition, registry)
    # The pools start first, so they fork before this process runs threads of its own.
    list_workers = [Worker(None, DOMAIN, name, registry, processes=workers, store=store) for name in lists]
    for worker in list_workers:
        worker.start()
    stop = threading.Event()
    loops: list[_Loop] = []
    engine = None
    embedded: _Embedded | None = None
    try:
        engine = Engine(db=db)
        if db is not None:
            adopt(engine)
        swf = engine.client()
        register(swf, DOMAIN, definition)
        decider = DeciderLoop(swf, DOMAIN, definition.task_list, [definition], store=store)
        loops = [_Loop("pipeflow-decider", decider.run, stop)]
        for worker in list_workers:
            worker.swf = swf
            # Once the run has closed nothing held is worth waiting for: a short drain.
            loops.append(_Loop(f"pipeflow-worker-{worker.task_list}", functools.partial(worker.run, drain_timeout=2.0), stop))
        for loop in loops:
            loop.start()
        embedded = _Embedded(swf, loops)
        try:
            yield embedded
        except KeyboardInterrupt:  # wherever it came: what the workers hold is left for the next holder
            embedded.interrupted = True
            raise
    finally:
        stop.set()
        worker_log = logging.getLogger("pipeflow.worker")
        level = worker_log.level
        if embedded is not None and embedded.interrupted:
            # Their hand-backs would meet a closed engine; the next holder fails their tasks as lost.
            worker_log.setLevel(logging.CRITICAL)
        if engine is not None:
            engine.close()  # wakes the long polls so the loops see `stop`
        for loop in loops:
            loop.join(timeout=30)
        for worker in list_workers:
            worker.close()
        worker_log.setLevel(level)


def task_lists(definition: Any, registry: Any) -> list[str]:
    """The activity task lists of a pipeline: its own, then those its tasks name (`task_list=`)."""
    return [definition.task_list] + sorted(
        {definition.activity_list(t) for t in registry.tasks.values() if t.task_list} - {definition.task_list}
    )


def register(swf: Any, domain: str, definition: Any) -> None:
    """Register the domain (if new), the pipeline's workflow type and its activity types."""
    from ._pipeline import register as register_types

    register_types(swf, domain, definition)


def start(swf: Any, domain: str, definition: Any, input: Any, *, store: str | None) -> tuple[str, str]:
    """Start one execution of the pipeline; returns (workflow id, run id)."""
    from ._pipeline import start_execution

    workflow_id = f"{definition.name[:243]}-{uuid.uuid4().hex[:12]}"  # SWF: at most 256 characters
    run_id = start_execution(swf, domain, definition, workflow_id, input, store=store)
    return workflow_id, run_id


def wait(
    swf: Any, domain: str, workflow_id: str, run_id: str, store: str | None, *, check: Any = None,
    max_delay: float = 0.05,
) -> Any:
    """Wait for an execution to close; return its decoded result or raise its failure."""
    from . import _wire

    execution = {"workflowId": workflow_id, "runId": run_id}
    wait_closed(swf, domain, execution, check=check, max_delay=max_delay)
    page = swf.get_workflow_execution_history(
        domain=domain, execution=execution, reverseOrder=True, maximumPageSize=1
    )
    return _wire.decode_close_event(page["events"][0], run_id=run_id, store=store)


def wait_closed(
    swf: Any, domain: str, execution: dict[str, str], *, check: Any = None, max_delay: float = 0.05,
    timeout: float | None = None,
) -> dict[str, Any] | None:
    """Wait for an execution to close; its executionInfo, or None when `timeout` seconds pass first."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.002
    while True:
        if check is not None:
            check()
        info: dict[str, Any] = swf.describe_workflow_execution(domain=domain, execution=execution)["executionInfo"]
        if info["executionStatus"] == "CLOSED":
            return info
        if deadline is not None and time.monotonic() >= deadline:
            return None
        time.sleep(delay if deadline is None else max(0.0, min(delay, deadline - time.monotonic())))
        delay = min(delay * 1.5, max_delay)


def _progress(swf: Any, workflow_id: str, run_id: str, domain: str = DOMAIN) -> Any:
    from ._progress import ProgressLine

    return ProgressLine(swf, domain, {"workflowId": workflow_id, "runId": run_id}).start()


def result_json(value: Any) -> str:
    """A result as JSON for stdout: DataFrames as lists of records, other objects as their str()."""
    return json.dumps(value, default=_jsonable, ensure_ascii=False)


def _jsonable(value: Any) -> Any:
    module = type(value).__module__
    if module.startswith("pandas"):
        if hasattr(value, "to_json"):
            orient = "records" if hasattr(value, "columns") else "split"
            return json.loads(value.to_json(orient=orient, date_format="iso"))
    if module.startswith("numpy") and hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


# -- long-running commands against an SWF endpoint ---------------------------------


def _swf_client(endpoint_url: str | None, region: str | None) -> Any:
    from ._aws import swf_client

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

    from ._loader import load_targets, tasks_of
    from .worker import Registry, Worker

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
    from ._loader import load_targets

    # The files first: a mistake in them is the likeliest error and the one to report.
    definitions = [_definition(item) for target in targets for item in load_targets(target)]
    from .decider import DeciderLoop

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


def _definition(loaded: Any) -> Any:
    """The Pipeline of a loaded target (a bare canvas is named after its file and attribute)."""
    from ._pipeline import as_pipeline

    return as_pipeline(loaded.target, attr=loaded.attr)
