"""`pipeflow rerun`: one attempt of a past run's step, run again in this process with the input it got.

The attempt is found by its canvas path (`2`, `1.0.1` inside a stage, `3.map.17` in a shard)
in the run's history or, for a step inside a stage or shard, in the history of the child
execution that ran it. Its ActivityTaskScheduled input (LambdaFunctionScheduled for a Lambda
step, whose body runs here as the embedded engine's stand-in runs it) is decoded as a worker decodes it
(`wire.decode_activity_input`: converters, checksums, the run's store only when it lies under
this process's), and the task is taken from the pipeline file the user names, never from a
name in the history (the same allowlist as a worker's). As for `pipeflow resume`, that file
must be the one the run was started from (its sha256), unless `allow_changed`.

Nothing is written: no event, no log, no cache entry; the result is encoded as the worker would
(so a value that could not cross SWF fails here too) into memory only.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from typing import Any

from .. import wire
from .._errors import PipelineError
from ._old_run import read_run, run_root
from ._progress import new_events
from ._resume import definition_for

MAX_DEPTH = 32  # child executions within child executions searched at most
SCRATCH = "memory://pipeflow-rerun"  # where a rerun's offloaded result goes: nowhere lasting


@dataclass(frozen=True)
class Attempt:
    """One scheduled attempt of a step, as its history recorded it."""

    step: str
    attempt: int
    task: str  # the activity type's name
    version: str
    input: str  # the ActivityTaskScheduled input, as sent
    execution: dict[str, str]  # the execution whose history holds it: the run's, or a stage's


@dataclass(frozen=True)
class StepCall:
    """A step ready to run again: its task and the decoded arguments of the attempt."""

    run_id: str
    attempt: Attempt
    task: Any
    args: list[Any]
    kwargs: dict[str, Any]
    store: str | None  # the run's store scope the input was read through (None: the run has none)

    def __call__(self) -> Any:
        """Call the task with the attempt's arguments, as a worker would; raises what the task raises.

        What the task prints goes to stderr: stdout is for the result.
        """
        with contextlib.redirect_stdout(sys.stderr):
            return self.task(*self.args, **self.kwargs)  # as the worker calls it (a class task: a new instance)

    def check(self, value: Any) -> None:
        """Encode `value` as the worker would (offloading into memory only): ConverterError when it could
        not cross SWF, as the attempt would have failed "encoding the result"."""
        wire.encode_result(value, task=self.task, store=SCRATCH if self.store is not None else None)


def attempts_of(swf: Any, domain: str, execution: dict[str, str], step: str) -> list[Attempt]:
    """Every scheduled attempt of `step` in the execution's history and, for a step inside one, its children's."""
    found: list[Attempt] = []
    pending = [(execution, 0)]
    while pending:
        current, depth = pending.pop(0)
        for event in new_events(swf, domain, current, 0):
            kind = event["eventType"]
            if kind == "ActivityTaskScheduled":
                attrs = event["activityTaskScheduledEventAttributes"]
                path, _, number = str(attrs.get("activityId", "")).rpartition("#")  # wire.parse_activity_id's form
                if path == step and number.isdigit():
                    named = attrs.get("activityType") or {}
                    found.append(Attempt(path, int(number), str(named.get("name")), str(named.get("version")),
                                         str(attrs.get("input") or ""), dict(current)))
            elif kind == "LambdaFunctionScheduled":
                attempt = _lambda_attempt(event["lambdaFunctionScheduledEventAttributes"], step, current)
                if attempt is not None:
                    found.append(attempt)
            elif kind == "StartChildWorkflowExecutionInitiated":
                control = str(event["startChildWorkflowExecutionInitiatedEventAttributes"].get("control") or "")
                if control.rpartition("#")[0] == step:
                    raise PipelineError(f"step {step} is a stage or a shard, which runs in a child execution: rerun "
                                        f"one of its steps (`pipeflow tasks RUN --expand` lists them)")
            elif kind == "ChildWorkflowExecutionStarted" and depth < MAX_DEPTH:
                child = event["childWorkflowExecutionStartedEventAttributes"].get("workflowExecution") or {}
                if _may_hold(str(child.get("workflowId", "")), current["workflowId"], step):
                    pending.append(({"workflowId": child["workflowId"], "runId": child["runId"]}, depth + 1))
    return found


def _lambda_attempt(attrs: dict[str, Any], step: str, execution: dict[str, str]) -> Attempt | None:
    """A Lambda step's attempt at `step`, or None (its input reads as an activity's: wire.decode_activity_input)."""
    from ..worker import LAMBDA_VERSION

    path, _, number = str(attrs.get("id", "")).rpartition("#")
    if path != step or not number.isdigit():
        return None
    return Attempt(path, int(number), str(attrs.get("name")), LAMBDA_VERSION, str(attrs.get("input") or ""),
                   dict(execution))


def _may_hold(child_id: str, parent_id: str, step: str) -> bool:
    """Whether a child execution (`<parent id>.<path>#<attempt>`) can hold `step`: a stage holds its
    path's inner steps, a shard of the map at `3` its items `3.map.<n>`."""
    key = child_id[len(parent_id) + 1:] if child_id.startswith(parent_id + ".") else ""
    path = key.rpartition("#")[0]
    if not path:
        return True  # not named as pipeflow names children: look inside
    base = path.split(".shard.", 1)[0]
    return step.startswith(base + ".")


def choose(found: list[Attempt], run: str, step: str, attempt: int | None) -> Attempt:
    """The attempt asked for (the last one by default); PipelineError naming what exists otherwise."""
    if not found:
        raise PipelineError(f"run {run} has no task attempt at step {step!r}: give a step path as "
                            f"`pipeflow tasks {run} --expand` lists them (a task's, not a stage's)")
    if attempt is None:
        return found[-1]
    for item in reversed(found):  # a retried stage runs its steps again: the latest wins
        if item.attempt == attempt:
            return item
    numbers = ", ".join(str(n) for n in sorted({item.attempt for item in found}))
    raise PipelineError(f"step {step} of run {run} has no attempt {attempt}: give --attempt one of {numbers}")


def prepare_rerun(swf: Any, domain: str, run: str, step: str, target: Any, *, attempt: int | None = None,
            store: str | None = None, allow_changed: bool = False) -> StepCall:
    """The task and decoded input of `step`'s attempt in `run` (a run id, or a workflow id: its latest run).

    `target` is the pipeline file (`FILE[:ATTR]`) or Pipeline to take the task from; `store`
    this process's store (default ./.pipeflow/payloads): the run's must lie under it. Raises
    PipelineError for an unknown run, step or attempt, a task FILE does not define, a changed
    FILE; ConverterError when the input cannot be read.
    """
    from ..endpoint import service_errors
    from ..worker import LAMBDA_VERSION
    from ._embedded import default_store

    with service_errors(domain):
        old = read_run(swf, domain, run)
        found = choose(attempts_of(swf, domain, old.execution, step.strip()), run, step.strip(), attempt)
    hint = f"pipeflow rerun path/to/pipeline.py {run} {step}"
    definition = definition_for(old, target, run, allow_changed=allow_changed, hint=hint)
    task = _registry(target, definition).get(found.task, found.version)
    if task is None:
        ran = f"the Lambda function {found.task}" if found.version == LAMBDA_VERSION else \
            f"task {found.task} (version {found.version})"
        raise PipelineError(f"step {found.step} of run {run} ran {ran}, which {target} does not define: "
                            f"give the file the run was started from")
    own = default_store(store)
    run_root(old, own, fix="give --store with the run's store to rerun its steps")  # refused: a usage error
    scope = wire.run_scope(own, found.execution["workflowId"], found.execution["runId"])
    args, kwargs, used = wire.decode_activity_input(found.input, store=scope)
    return StepCall(old.execution["runId"], found, task, args, kwargs, used)


def _registry(target: Any, definition: Any) -> Any:
    """The tasks a worker started with `target` would run: the file's, or the pipeline's."""
    from ..canvas import iter_tasks
    from ..worker import Registry

    if isinstance(target, str):
        return Registry.from_files([target])
    return Registry.from_tasks(iter_tasks(definition))

