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
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._executions import DOMAIN, _progress, register, start, task_lists, wait_final

log = logging.getLogger("pipeflow.run")

STATE_DIR = Path(".pipeflow")
STATE_DB = STATE_DIR / "state.sqlite"
PAYLOADS = STATE_DIR / "payloads"
# A clean close always folds the log: the runs that closed go to their rows (msgpack records) and
# the snapshot holds what is open. Measured on a 4,000-item map: the fold costs about 70 ms at
# the end of the run; left to the next open, replaying the log cost that run about 0.4 s.
FOLD_AT_CLOSE = 0


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
    from .._pipeline import Pipeline

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
    from ..wire import HANDBACK

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
    tags: Any = None,
    priority: int | None = None,
) -> Any:
    """Run a pipeline on the embedded engine in this process and return its result.

    `store`: where large values go (`s3://bucket/prefix` or a directory); by default
    `PIPEFLOW_STORE`, as for `pf.Client()` and the commands, else ./.pipeflow/payloads.
    `tags` ({"team": "data"}) are kept with the run (SWF's tagList, at most 5; `pipeflow runs
    --tag team=data` finds it); `priority` is the SWF taskPriority of its steps that set none.
    Raises `TaskFailed` (step, task, error, run id) when a step fails for good.
    """
    if store is DEFAULT:
        store = os.environ.get("PIPEFLOW_STORE") or DEFAULT
    return run_embedded(pipeline, input, store=store, workers=workers, progress=progress, tags=tags,
                        priority=priority).result


def run_file(loaded: Any, input: Any, *, store: str | None, workers: int | None, progress: bool, tags: Any = None,
             priority: int | None = None) -> RunOutcome:
    """`pipeflow run`: the loaded pipeline on the embedded engine, state kept in ./.pipeflow/."""
    STATE_DIR.mkdir(mode=0o700, exist_ok=True)
    return run_embedded(
        loaded.target, input, store=DEFAULT if store is None else store, workers=workers,
        progress=progress, db=str(STATE_DB), attr=loaded.attr, tags=tags, priority=priority,
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
    tags: Any = None,
    priority: int | None = None,
) -> RunOutcome:
    """Start engine, decider and worker; submit one execution; wait for it; stop everything.

    `attr` is the attribute a bare canvas was loaded from: it names the workflow type.
    """
    from .._pipeline import as_pipeline
    from ._tags import run_options

    run_options(tags, priority)  # a bad tag or priority is refused before anything starts
    definition = as_pipeline(pipeline, attr=attr)
    if db is not None:  # a state other processes' runs share
        definition = own_task_list(definition)
    if store is DEFAULT:
        PAYLOADS.mkdir(mode=0o700, parents=True, exist_ok=True)
        store = str(PAYLOADS.resolve())
    started: tuple[str, str] | None = None
    with interrupted_run(lambda: started):
        with _embedded(definition, store=store, workers=workers, db=db) as embedded:
            started = start(embedded.swf, DOMAIN, definition, input, store=store, tags=tags, priority=priority)
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
        from ._inbox import Inbox

        check = Inbox(Path(db).parent / "control", swf, DOMAIN).wrap(check)
    try:
        # Asked every 10 ms at most (a call in this process costs ~0.1 ms): a run's close is seen
        # within 10 ms, where the 50 ms of a remote engine would add 25 ms to a short run on average.
        return RunOutcome(workflow_id, *wait_final(swf, DOMAIN, workflow_id, run_id, root, check=check,
                                                   max_delay=0.01))
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
    from .._loader import tasks_of
    from ..decider import DeciderLoop
    from ..engine import Batch, Engine
    from ..worker import Registry, Worker

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
        engine = Engine(db=db, fold_at_close=FOLD_AT_CLOSE)
        if db is not None:
            adopt(engine)
        swf = engine.client()
        register(swf, DOMAIN, definition)
        decider = DeciderLoop(swf, DOMAIN, definition.task_list, [definition], store=store)
        loops = [_Loop("pipeflow-decider", decider.run, stop)]
        for worker in list_workers:
            worker.swf = swf
            worker.batch = Batch(engine)  # several tasks taken and answered per call (own events each)
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


def _definition(loaded: Any) -> Any:
    """The Pipeline of a loaded target (a bare canvas is named after its file and attribute)."""
    from .._pipeline import as_pipeline

    return as_pipeline(loaded.target, attr=loaded.attr)
