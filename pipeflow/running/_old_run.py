"""A past run read back for `pipeflow resume`: its execution, input document, checkpoints and store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import converters

from .. import wire
from .._errors import PipelineError

PAGE = 1000  # executions or events per page (SWF maximum)


@dataclass
class OldRun:
    """What a resume needs from an execution's history."""

    execution: dict[str, str]  # workflowId, runId
    workflow_type: dict[str, str]  # name, version
    status: str  # OPEN, or the close status: COMPLETED, FAILED, CANCELED, ...
    doc: dict[str, Any]  # its input document
    settings: dict[str, Any]  # task list, timeouts and child policy it was started with
    checkpoints: dict[str, Any] = field(default_factory=dict)  # step path -> result tree
    names: dict[str, str] = field(default_factory=dict)  # top-level step path -> task name, from its activities

    @property
    def source(self) -> str | None:
        """The pipeline file it was started from, as recorded (a hint: never loaded)."""
        value = self.doc.get("source")
        return value[:1024] if isinstance(value, str) else None

    @property
    def source_sha256(self) -> str | None:
        """The sha256 of that file when the run was started, as recorded."""
        value = self.doc.get("source_sha256")
        return value if isinstance(value, str) and len(value) == 64 else None


def _pages(call: Any, key: str, **params: Any) -> Iterator[dict[str, Any]]:
    token = None
    while True:
        page = call(**params, maximumPageSize=PAGE, **({"nextPageToken": token} if token else {}))
        yield from page.get(key, ())
        token = page.get("nextPageToken")
        if not token:
            return


def find_execution(swf: Any, domain: str, run: str) -> dict[str, Any]:
    """The execution info of run id `run`, or of the latest run of workflow id `run`; PipelineError if none."""
    matches: list[dict[str, Any]] = []
    for call in (swf.list_open_workflow_executions, swf.list_closed_workflow_executions):
        for info in _pages(call, "executionInfos", domain=domain, startTimeFilter={"oldestDate": 0}):
            execution = info["execution"]
            if execution["runId"] == run:
                return info
            if execution["workflowId"] == run:
                matches.append(info)
    if not matches:
        raise PipelineError(
            f"no run {run!r} in domain {domain!r}: give a run id or a workflow id (`pipeflow run --json` prints "
            "both), with the --backend/--domain/--endpoint-url the run used"
        )
    return max(matches, key=lambda info: _epoch(info.get("startTimestamp")))


def _epoch(value: Any) -> float:
    return float(value.timestamp()) if hasattr(value, "timestamp") else float(value or 0)


def read_run(swf: Any, domain: str, run: str) -> OldRun:
    """The old run's execution, input document and checkpoints, from its (paged) history."""
    from ..decider import CHECKPOINT, read_checkpoint  # the decider writes them

    info = find_execution(swf, domain, run)
    execution = {"workflowId": info["execution"]["workflowId"], "runId": info["execution"]["runId"]}
    status = info.get("closeStatus") if info.get("executionStatus") == "CLOSED" else "OPEN"
    old: OldRun | None = None
    for event in _pages(swf.get_workflow_execution_history, "events", domain=domain, execution=execution):
        kind = event["eventType"]
        if kind == "WorkflowExecutionStarted":
            attrs = event["workflowExecutionStartedEventAttributes"]
            try:
                doc = wire.load_json(attrs.get("input") or "", "its input")
                if not isinstance(doc, dict) or "input" not in doc:
                    raise ValueError("no pipeline input in it")
            except ValueError as exc:
                raise PipelineError(f"run {run} was not started by pipeflow (its input is not a pipeflow input "
                                    f"document: {exc}); it cannot be resumed") from None
            # tagList, taskPriority and lambdaRole too: a resumed run keeps the tags, priority and Lambda
            # role of the run it resumes
            settings = {k: attrs[k] for k in ("taskList", "executionStartToCloseTimeout", "taskStartToCloseTimeout",
                                              "childPolicy", "tagList", "taskPriority", "lambdaRole") if attrs.get(k)}
            old = OldRun(execution, dict(attrs.get("workflowType") or info["workflowType"]), str(status), doc, settings)
        elif old is None:
            continue
        elif kind == "MarkerRecorded":
            attrs = event["markerRecordedEventAttributes"]
            if attrs.get("markerName") == CHECKPOINT:
                found = read_checkpoint(attrs.get("details"))
                if found is not None:
                    old.checkpoints[found[0]] = found[1]
        elif kind == "ActivityTaskScheduled":
            attrs = event["activityTaskScheduledEventAttributes"]
            path = attrs["activityId"].rpartition("#")[0]
            if "." not in path:
                old.names.setdefault(path, attrs["activityType"]["name"])
    if old is None:
        raise PipelineError(f"run {run} has no WorkflowExecutionStarted event; it cannot be resumed")
    if isinstance(old.doc.get("stage"), dict):
        parent = old.doc["stage"].get("parent")
        raise PipelineError(f"run {run} is a stage of run {parent}: resume that run instead")
    return old


def select_checkpoints(old: OldRun, from_step: str | None, definition: Any = None) -> dict[str, Any]:
    """The old run's checkpoints minus those of `from_step` (a path like `2`, or a top-level task's name) and later."""
    checkpoints = dict(old.checkpoints)
    if from_step is None:
        return checkpoints
    # A nested path counts from its top-level step: what follows it inside that step depends on it.
    top = int(_resolve_step(from_step.strip(), old, definition).split(".", 1)[0])
    return {path: tree for path, tree in checkpoints.items()
            if path.split(".", 1)[0].isdigit() and int(path.split(".", 1)[0]) < top}


def _resolve_step(step: str, old: OldRun, definition: Any) -> str:
    """The path `--from` names (a path, or a top-level task's name); PipelineError naming the steps otherwise."""
    names: dict[str, str] = {}  # top-level path -> task name (or the kind of step)
    members = getattr(getattr(definition, "canvas", None), "steps", None)
    if members is not None:
        from ..task import Signature, Task

        for i, member in enumerate(members):
            task = member.task if isinstance(member, Signature) else member
            names[str(i)] = task.name if isinstance(task, Task) else type(member).__name__.lower()
    for path, name in old.names.items():
        if members is None:  # without the canvas, the steps the old run reached are all we know
            names.setdefault(path, name)
    ordered = sorted(((path, name) for path, name in names.items() if path.isdigit()), key=lambda item: int(item[0]))
    known = ", ".join(f"{path} ({name})" for path, name in ordered) or "none known"
    top = step.split(".", 1)[0]
    if top.isdigit():
        if members is not None and int(top) >= len(members):
            raise PipelineError(f"--from {step}: the pipeline has no step {top}; give one of its steps: {known}")
        return step
    for path, name in ordered:  # the earliest step of that name: re-running more is the safe side
        if step in (name, name.rsplit(".", 1)[-1]):
            return path
    raise PipelineError(f"--from {step}: no top-level step has that path or task name; the steps are {known}")


def check_resumable(old: OldRun, run: str, from_step: str | None, *, open_ok: bool = False) -> None:
    """Refuse (PipelineError) an open run (unless `open_ok`: adopted), or a completed one without `from_step`."""
    if old.status == "OPEN" and not open_ok:
        raise PipelineError(f"run {run} is still open: wait for it to close (or cancel it) before resuming it")
    if old.status == "COMPLETED" and from_step is None:
        raise PipelineError(f"run {run} completed: nothing to resume (give --from STEP to run it again from a step)")


def run_root(old: OldRun, store: str | None, fix: str | None = None) -> str | None:
    """The old run's store root, when it lies under `store` (this process's); PipelineError otherwise."""
    root = old.doc.get("store")
    if root is None:
        return None
    shown = wire.shown_uri(root) if isinstance(root, str) else "<the run's store>"
    try:
        return wire.run_store(root, store, "command", fix=fix or f"resume it with --store {shown}")
    except converters.StoreError as exc:  # a setting to change, as a wrong --store is
        raise PipelineError(f"run {old.execution['runId']} cannot be resumed here: {exc}") from None
