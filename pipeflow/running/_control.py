"""Control of a running pipeline from outside: cancel it, signal it.

`cancel()` and `signal()` take any SWF client (boto3's, or the embedded engine's) and a run
named by its run id or its workflow id. `pipeflow cancel` / `pipeflow signal` call them; with
the embedded backend the engine's state in ./.pipeflow/ is held by the `pipeflow run` that is
running the pipeline (one engine per database), so the command leaves its request in
./.pipeflow/control/ and that process carries it out (`_inbox.Inbox`).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import converters

from .._errors import EngineError, PipelineError

log = logging.getLogger("pipeflow.control")

SERVE_EVERY = 0.25  # seconds between looks at the inbox by a running `pipeflow run`
_WORKFLOW_ID = re.compile(r"[^:/|\x00-\x1f\x7f-\x9f]{1,256}")
ANSWER_WAIT = 15.0  # seconds a command waits for the running `pipeflow run` to answer
# The read calls the holder of the embedded engine answers for other processes (`InboxReader`).
READS = {
    "ListOpenWorkflowExecutions": "list_open_workflow_executions",
    "ListClosedWorkflowExecutions": "list_closed_workflow_executions",
    "DescribeWorkflowExecution": "describe_workflow_execution",
    "GetWorkflowExecutionHistory": "get_workflow_execution_history",
}


def find_run(swf: Any, domain: str, run: str | dict[str, str]) -> dict[str, str]:
    """The open execution `{"workflowId", "runId"}` a run id or a workflow id names.

    Raises EngineError (code UnknownResourceFault) when no open execution of the domain has it.
    """
    if isinstance(run, dict):
        return {"workflowId": run["workflowId"], "runId": run["runId"]}
    if _WORKFLOW_ID.fullmatch(run) and run != "arn":  # a run id may hold '/', which no workflow id has
        for info in _open_executions(swf, domain, executionFilter={"workflowId": run}):
            if info["execution"]["workflowId"] == run:
                return dict(info["execution"])
    # A run id: SWF filters open executions by workflow id, type or tag only.
    for info in _open_executions(swf, domain):
        if run in (info["execution"]["runId"], info["execution"]["workflowId"]):
            return dict(info["execution"])
    closed = _closed_run(swf, domain, run)
    if closed is not None and closed.get("closeStatus") == "CONTINUED_AS_NEW":  # a repeat: its run now, if open
        for info in _open_executions(swf, domain, executionFilter={"workflowId": closed["execution"]["workflowId"]}):
            if info["execution"]["workflowId"] == closed["execution"]["workflowId"]:
                return dict(info["execution"])
    if closed is not None:
        execution = closed["execution"]
        raise EngineError(f"run {execution['runId']} (workflow {execution['workflowId']}) has already closed "
                          f"({closed.get('closeStatus', 'CLOSED')}): only an open run can be canceled or signalled",
                          code="UnknownResourceFault")
    raise EngineError(f"no open run {run!r} in domain {domain!r}: give the run id or workflow id of a run "
                      "that has not closed", code="UnknownResourceFault")


def find_any_run(swf: Any, domain: str, run: str) -> dict[str, Any]:
    """The execution info of run id `run`, or of the latest run of workflow id `run`, open or closed.

    Raises EngineError (code UnknownResourceFault) when the domain has no such run.
    """
    infos: list[dict[str, Any]] = []
    if _WORKFLOW_ID.fullmatch(run) and run != "arn":  # SWF filters by workflow id: cheap
        for closed in (False, True):
            infos += [info for info in _executions(swf, domain, closed, executionFilter={"workflowId": run})
                      if info["execution"]["workflowId"] == run]  # moto ignores list filters
    if not infos:  # a run id: SWF filters by workflow id, type or tag only
        for closed in (False, True):
            for info in _executions(swf, domain, closed):
                if info["execution"]["runId"] == run:
                    return info
    if not infos:
        raise EngineError(f"no run {run!r} in domain {domain!r}: give a run id or a workflow id (`pipeflow runs` "
                          "lists them), with the --backend/--domain/--endpoint-url the run used",
                          code="UnknownResourceFault")
    return max(infos, key=lambda info: _epoch(info.get("startTimestamp")))


def _closed_run(swf: Any, domain: str, run: str) -> dict[str, Any] | None:
    """The latest closed execution named by `run`, if any (for a clear error)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        info = find_any_run(swf, domain, run)
    except (EngineError, ClientError, BotoCoreError):  # only an error message depends on it
        return None
    return info if info.get("executionStatus") == "CLOSED" else None


def _epoch(value: Any) -> float:
    return float(value.timestamp()) if hasattr(value, "timestamp") else float(value or 0)


def _executions(swf: Any, domain: str, closed: bool, **filters: Any) -> list[dict[str, Any]]:
    """Every open (or closed) execution of the domain matching `filters`, all pages."""
    call = swf.list_closed_workflow_executions if closed else swf.list_open_workflow_executions
    infos: list[dict[str, Any]] = []
    params: dict[str, Any] = {"domain": domain, "startTimeFilter": {"oldestDate": 0}, "maximumPageSize": 1000,
                              **filters}
    while True:
        page = call(**params)
        infos.extend(page.get("executionInfos", ()))
        token = page.get("nextPageToken")
        if not token:
            return infos
        params["nextPageToken"] = token


def _open_executions(swf: Any, domain: str, **filters: Any) -> list[dict[str, Any]]:
    infos: list[dict[str, Any]] = []
    params: dict[str, Any] = {"domain": domain, "startTimeFilter": {"oldestDate": 0}, **filters}
    while True:
        page = swf.list_open_workflow_executions(**params)
        infos.extend(info for info in page.get("executionInfos", ()) if info.get("executionStatus", "OPEN") == "OPEN")
        token = page.get("nextPageToken")
        if not token:
            return infos
        params["nextPageToken"] = token


def cancel(swf: Any, domain: str, run: str | dict[str, str], reason: str | None = None) -> dict[str, str]:
    """Ask a run to cancel (RequestCancelWorkflowExecution); returns its execution.

    The run's decider cancels its open activities, timers and child executions and closes it
    CANCELED; workers kill the processes running its tasks. `reason` goes into the close's
    details (sent first as the signal `pipeflow.cancel`: a cancel request carries no text).
    """
    from ..decider import (
        CANCEL_SIGNAL,  # the decider reads the reason of the cancel request that follows it
    )

    execution = find_run(swf, domain, run)
    if reason:
        swf.signal_workflow_execution(domain=domain, workflowId=execution["workflowId"], runId=execution["runId"],
                                      signalName=CANCEL_SIGNAL, input=converters.dumps(str(reason)[:1000], codec="json"))
    swf.request_cancel_workflow_execution(domain=domain, workflowId=execution["workflowId"], runId=execution["runId"])
    return execution


def signal(swf: Any, domain: str, run: str | dict[str, str], name: str, value: Any = None, *,
           store: str | None = None) -> dict[str, str]:
    """Send the signal `name` with `value` to a run (SignalWorkflowExecution); returns its execution.

    A `pf.wait_signal(name)` step of the run completes with `value`. The value crosses as a
    converters envelope: it must fit SWF's 32,768 characters unless `store` is given.
    """
    _check_name(name)
    data = converters.dumps(value, store=store, what=f"the value of signal {name!r}")
    execution = find_run(swf, domain, run)
    swf.signal_workflow_execution(domain=domain, workflowId=execution["workflowId"], runId=execution["runId"],
                                  signalName=name, input=data)
    return execution


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= 256:
        raise PipelineError(f"a signal name has 1-256 characters, got {name!r}")
    if name.startswith("pipeflow."):
        raise PipelineError(f"signal names starting with 'pipeflow.' are pipeflow's own; choose another than {name!r}")




# -- the commands ----------------------------------------------------------------------------------


def command(op: str, run: str, *, backend: str, domain: str | None, endpoint_url: str | None, region: str | None,
            reason: str | None = None, name: str = "", value: Any = None) -> dict[str, str]:
    """`pipeflow cancel` (op "cancel") and `pipeflow signal` (op "signal"): the run's execution once done."""
    if op == "signal":
        _check_name(name)
    if backend == "swf":
        from ..endpoint import service_errors, swf_client

        assert domain is not None
        with service_errors(domain):
            swf = swf_client(endpoint_url=endpoint_url, region=region)
            return _do(swf, domain, op, run, reason, name, value)
    from ..engine import Engine
    from ._embedded import STATE_DB
    from ._executions import DOMAIN

    if not STATE_DB.is_file():
        raise EngineError(f"no run was started here: no engine state at {STATE_DB} (run the command where "
                          "`pipeflow run` ran, or give --backend swf --domain D for a run on SWF)",
                          code="UnknownResourceFault")
    try:
        engine = Engine(db=str(STATE_DB))
    except EngineError:  # held by the `pipeflow run` running the pipeline: it carries the request out
        request: dict[str, Any] = {"op": op, "run": run}
        if op == "cancel":
            request["reason"] = reason
        else:
            request.update(name=name, input=converters.dumps(value, what=f"the value of signal {name!r}"))
        from ._inbox import post  # the inbox builds on this module

        return post(STATE_DB.parent / "control", request)
    with engine:
        from ._embedded import adopt, close_canceled

        adopt(engine)  # no process holds the state: what its last holder started is lost
        if op == "cancel":
            # Nobody decides the run now, and nothing runs its tasks: it closes here, its tasks with it.
            execution = find_run(engine.client(), DOMAIN, run)
            close_canceled(engine, execution, reason)
            return execution
        execution = _do(engine.client(), DOMAIN, op, run, reason, name, value)
    # Nothing decides the run now: it acts on the signal when `pipeflow resume` adopts it here.
    log.warning("no `pipeflow run` is running here: run %s sees the %s when `pipeflow resume FILE RUN` adopts it in this "
                "directory", execution["runId"], f"signal {name}")
    return execution


def _do(swf: Any, domain: str, op: str, run: str, reason: str | None, name: str, value: Any) -> dict[str, str]:
    if op == "cancel":
        return cancel(swf, domain, run, reason)
    return signal(swf, domain, run, name, value)
