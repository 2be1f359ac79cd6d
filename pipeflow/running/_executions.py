"""One execution through any SWF client: register its types, start it (recording its pipeline file), wait for it."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any

from .. import wire
from .._errors import PipelineError
from .._pipeline import Pipeline
from ..canvas import iter_tasks

DOMAIN = "pipeflow"  # the SWF domain of the embedded engine

log = logging.getLogger("pipeflow.run")


def task_lists(definition: Any, registry: Any) -> list[str]:
    """The activity task lists of a pipeline: its own, then those its tasks name (`task_list=`)."""
    return [definition.task_list] + sorted(
        {definition.activity_list(t) for t in registry.tasks.values() if t.task_list} - {definition.task_list}
    )


def register(swf: Any, domain: str, definition: Any) -> None:
    """Register the domain (if new), the pipeline's workflow type and its activity types."""
    register_types(swf, domain, definition)


def start(swf: Any, domain: str, definition: Any, input: Any, *, store: str | None, tags: Any = None,
          priority: int | None = None, lambda_role: str | None = None) -> tuple[str, str]:
    """Start one execution of the pipeline; returns (workflow id, run id). `tags`, `priority`: see `run_options`.

    `lambda_role`: the IAM role SWF invokes the Lambda steps with; Amazon SWF refuses such steps
    without one, so a pipeline that has them is refused here first (`check_lambda_role`).
    """
    from ._lambda import check_lambda_role

    lambda_role = check_lambda_role(swf, definition, lambda_role).get("lambdaRole")
    workflow_id = f"{definition.name[:243]}-{uuid.uuid4().hex[:12]}"  # SWF: at most 256 characters
    run_id = start_execution(swf, domain, definition, workflow_id, input, store=store, tags=tags, priority=priority,
                             lambda_role=lambda_role)
    return workflow_id, run_id


def wait(
    swf: Any, domain: str, workflow_id: str, run_id: str, store: str | None, *, check: Any = None,
    max_delay: float = 0.05,
) -> Any:
    """Wait for an execution to close; return its decoded result or raise its failure.

    A run that continues as new (`pf.repeat`) is followed to the run that closes otherwise.
    """
    return wait_final(swf, domain, workflow_id, run_id, store, check=check, max_delay=max_delay)[1]


def wait_final(
    swf: Any, domain: str, workflow_id: str, run_id: str, store: str | None, *, check: Any = None,
    max_delay: float = 0.05,
) -> tuple[str, Any]:
    """`wait`, giving also the id of the run that closed: the last of a repeat's runs (continued as new)."""
    from .. import wire

    while True:
        execution = {"workflowId": workflow_id, "runId": run_id}
        wait_closed(swf, domain, execution, check=check, max_delay=max_delay)
        page = swf.get_workflow_execution_history(
            domain=domain, execution=execution, reverseOrder=True, maximumPageSize=1
        )
        event = page["events"][0]
        if event["eventType"] != "WorkflowExecutionContinuedAsNew":
            return run_id, wire.decode_close_event(event, run_id=run_id, store=store, workflow_id=workflow_id)
        run_id = event["workflowExecutionContinuedAsNewEventAttributes"]["newExecutionRunId"]


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
DEFAULT_TIMEOUT = 365 * 24 * 3600
# Seconds a decider has to answer a decision task. A decider killed while it holds one stalls the
# run this long (SWF has no heartbeat for deciders); a decision takes well under a second, paging
# a 25,000-event history from SWF a few.
DECISION_TIMEOUT = "30"


def _exists(swf: Any, call: Any, **params: Any) -> None:
    try:
        call(**params)
    except Exception as exc:  # botocore ClientError or the engine's: only "already exists" is fine
        code = getattr(exc, "response", {}).get("Error", {}).get("Code") or getattr(exc, "code", None)
        if code not in ("DomainAlreadyExistsFault", "TypeAlreadyExistsFault"):
            raise


def register_domain(swf: Any, domain: str) -> None:
    """Register the domain if new (a day's retention: the embedded engine's and pipeflow's default)."""
    _exists(swf, swf.register_domain, name=domain, workflowExecutionRetentionPeriodInDays="1")


def register_types(swf: Any, domain: str, pipeline: Pipeline) -> None:
    """Register the domain (if new), the workflow type and every activity type; idempotent."""
    register_domain(swf, domain)
    _exists(
        swf, swf.register_workflow_type, domain=domain, name=pipeline.name, version=pipeline.version,
        defaultTaskList={"name": pipeline.task_list}, defaultChildPolicy="TERMINATE",
        defaultExecutionStartToCloseTimeout=str(pipeline.timeout or DEFAULT_TIMEOUT),
        defaultTaskStartToCloseTimeout=DECISION_TIMEOUT,
    )
    for task in iter_tasks(pipeline.canvas):
        # The decider passes every timeout on each ScheduleActivityTask; these defaults only document.
        _exists(
            swf, swf.register_activity_type, domain=domain, name=task.name, version=task.version,
            defaultTaskList={"name": pipeline.activity_list(task)},
            defaultTaskStartToCloseTimeout=str(task.timeout) if task.timeout else "NONE",
            defaultTaskHeartbeatTimeout=str(task.heartbeat) if task.heartbeat else "NONE",
            defaultTaskScheduleToStartTimeout="NONE", defaultTaskScheduleToCloseTimeout="NONE",
        )


def start_execution(
    swf: Any, domain: str, pipeline: Pipeline, workflow_id: str, input: Any, store: str | None = None, *,
    tags: Any = None, priority: int | None = None, lambda_role: str | None = None,
) -> str:
    """Start one execution; returns its run id. With a store, its folder gets a manifest first."""
    from ..wire import encode_workflow_input, write_manifest
    from ._tags import run_options

    options = run_options(tags, priority)  # checked before anything is written
    workflow_type = {"name": pipeline.name, "version": pipeline.version}
    if store is not None:
        write_manifest(store, domain=domain, workflow_id=workflow_id, workflow_type=workflow_type)
    response = swf.start_workflow_execution(
        domain=domain, workflowId=workflow_id,
        workflowType=workflow_type,
        taskList={"name": pipeline.task_list},
        # "source": the pipeline file, so `pipeflow resume RUN` can load it again (pipeflow.running._resume)
        input=with_source(encode_workflow_input(input, store, codec=pipeline.input_converter, workflow_id=workflow_id),
                          pipeline),
        executionStartToCloseTimeout=str(pipeline.timeout or DEFAULT_TIMEOUT),
        taskStartToCloseTimeout=DECISION_TIMEOUT, childPolicy="TERMINATE", **options,
        **({"lambdaRole": lambda_role} if lambda_role else {}),  # SWF invokes the Lambda steps with it
    )
    return str(response["runId"])

# -- where a run's pipeline file is recorded ---------------------------------------------


def source_of(pipeline: Any) -> str | None:
    """The file, loaded by `pipeflow`'s loader, that defines this pipeline's workflow type (None if none)."""
    from .._loader import is_pipeline_like, loaded_files
    from .._pipeline import as_pipeline

    key = (pipeline.name, pipeline.version)
    for path, module in loaded_files():
        for name, value in list(vars(module).items()):
            if name.startswith("_") or not is_pipeline_like(value):
                continue
            try:
                found = as_pipeline(value, attr=name)
            except PipelineError:
                continue
            if (found.name, found.version) == key:
                return str(path)
    return None


def with_source(text: str, pipeline: Any) -> str:
    """A workflow input document with `"source"` and `"source_sha256"`: the pipeline file, when it came from one."""
    source = source_of(pipeline)
    if source is None:
        return text
    doc = json.loads(text)
    doc["source"] = source
    try:
        doc["source_sha256"] = file_sha256(source)
    except OSError:
        pass  # gone since it was loaded: the path alone is still a hint
    out = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    return out if len(out) <= wire.LIMIT else text


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
