"""`pipeflow run --backend swf`: one run on Amazon SWF (or any SWF endpoint), decided and worked from here.

The same pieces as the embedded run, pointed at a real endpoint: the types are
registered (idempotently), the execution is started, a decider loop runs on a
thread and, unless told otherwise, a worker with its process pool runs the
activities; workers and deciders elsewhere on the domain may share the work.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .._errors import PipelineError
from ..endpoint import service_errors
from ._embedded import RunOutcome, _definition, _Embedded, _Loop
from ._executions import _progress, register, start, task_lists, wait
from ._lambda import check_lambda_role

WAIT_MAX_DELAY = 1.0  # seconds between DescribeWorkflowExecution calls: SWF throttles chatty clients


def run_swf(
    loaded: Any,
    input: Any,
    *,
    domain: str,
    endpoint_url: str | None,
    region: str | None,
    store: str | None,
    workers: int | None,
    local_workers: bool = True,
    progress: bool = False,
    tags: Any = None,
    priority: int | None = None,
    lambda_role: str | None = None,
) -> RunOutcome:
    """Register, start, decide (and work) one execution on an SWF endpoint; return its RunOutcome.

    `lambda_role` is the IAM role Amazon SWF invokes the Lambda steps with (required there when the
    pipeline has some; other endpoints run the registered function as a stand-in).
    """
    from ..endpoint import swf_client
    from ._tags import run_options

    run_options(tags, priority)  # a bad tag or priority is refused before anything starts
    definition = _definition(loaded)
    with service_errors(domain):
        swf = swf_client(endpoint_url=endpoint_url, region=region)
        role = check_lambda_role(swf, definition, lambda_role).get("lambdaRole")  # before any worker starts
        return run_here(
            swf, domain, definition,
            lambda running: (*start(swf, domain, running, input, store=store, tags=tags, priority=priority,
                                    lambda_role=role), store),
            store=store, workers=workers, local_workers=local_workers, progress=progress)


def run_here(
    swf: Any, domain: str, definition: Any, begin: Callable[[Any], tuple[str, str, str | None]], *,
    store: str | None, workers: int | None, local_workers: bool, progress: bool,
) -> RunOutcome:
    """Register the types, run a decider (and workers) here, start the run with `begin`, wait for it.

    `begin(running)` starts the execution of `running` (the definition, on a task list of this run's
    own with local workers) and gives (workflowId, runId, its store root).
    """
    # With local workers the run gets task lists of its own: a long poll left open by an earlier
    # `pipeflow run` (its process gone, SWF unaware) can then never swallow this run's tasks.
    # Without, the steps go to the pipeline's list, where `pipeflow worker`s elsewhere poll.
    running = _own_task_list(definition) if local_workers else definition

    def prepare() -> None:
        register(swf, domain, definition)
        check_registration(swf, domain, definition)

    with _local(swf, domain, running, prepare, store=store, workers=workers if local_workers else 0) as check:
        workflow_id, run_id, root = begin(running)
        reporter = _progress(swf, workflow_id, run_id, domain) if progress else None
        try:
            result = wait(swf, domain, workflow_id, run_id, root, check=check, max_delay=WAIT_MAX_DELAY)
        finally:
            if reporter is not None:
                reporter.close()
        return RunOutcome(workflow_id, run_id, result)


def _own_task_list(definition: Any) -> Any:
    """The pipeline with a task list for this run only (tasks with their own task_list keep it)."""
    from .._pipeline import Pipeline

    # SWF allows 256 characters; the suffix keeps the pipeline's name readable in the console.
    name = f"{definition.task_list[:200]}.run-{uuid.uuid4().hex[:12]}"
    return Pipeline(definition.canvas, definition.name, definition.version, definition.input_converter,
                    definition.timeout, task_list=name)


def check_registration(swf: Any, domain: str, definition: Any) -> None:
    """Raise PipelineError when the domain, the workflow type or an activity type is deprecated.

    Registering an existing type succeeds whatever its status, so a deprecated one
    would only show later as runs that never start or steps that are never scheduled.
    """
    from ..canvas import iter_tasks

    if swf.describe_domain(name=domain)["domainInfo"].get("status") == "DEPRECATED":
        raise PipelineError(f"the SWF domain {domain!r} is deprecated; use another --domain")
    kinds = [("workflow", swf.describe_workflow_type, "workflowType", definition.name, definition.version)]
    kinds += [("activity", swf.describe_activity_type, "activityType", t.name, t.version) for t in iter_tasks(definition.canvas)]
    for kind, describe, key, name, version in kinds:
        info = describe(domain=domain, **{key: {"name": name, "version": version}})["typeInfo"]
        if info.get("status") == "DEPRECATED":
            where = "the pipeline's version (Pipeline(..., version=...))" if kind == "workflow" else \
                "the task's version (@pf.task(version=...))"
            raise PipelineError(
                f"the {kind} type {name!r} version {version!r} is deprecated in SWF domain {domain!r}; "
                f"a deprecated type cannot be used again: bump {where}"
            )


@contextmanager
def _local(
    swf: Any, domain: str, definition: Any, prepare: Callable[[], None], *, store: str | None, workers: int | None
) -> Iterator[Any]:
    """Run the decider loop (and the workers, unless workers == 0) until the block ends; yields a check().

    `prepare` (the registration) runs after the worker pools have forked and before any loop polls.
    """
    from .._loader import tasks_of
    from ..decider import DeciderLoop
    from ..worker import Registry, Worker

    registry = Registry.from_tasks(tasks_of(definition))
    lists = task_lists(definition, registry)
    local = [] if workers == 0 else [
        Worker(swf, domain, name, registry, processes=workers, store=store) for name in lists
    ]
    for worker in local:
        worker.start()  # the pools fork before this process runs threads of its own
    stop = threading.Event()
    decider = _Loop("pipeflow-decider", DeciderLoop(swf, domain, definition.task_list, [definition], store=store).run,
                    stop)
    loops = [decider] + [_Loop(f"pipeflow-worker-{w.task_list}", w.run, stop) for w in local]
    try:
        prepare()
        for loop in loops:
            loop.start()
        yield _Embedded(swf, loops).check
    finally:
        stop.set()
        # Worker loops return once the held tasks are done; their pollers and the decider's
        # long poll cannot be woken on a remote endpoint, so those daemon threads are left
        # behind: anything they receive later times out on SWF's side and is retried.
        for loop in loops[1:]:
            if loop.ident is not None:  # started
                loop.join(timeout=30)
        for worker in local:
            worker.close()
