"""Control of a running pipeline from outside: cancel it, signal it.

`cancel()` and `signal()` take any SWF client (boto3's, or the embedded engine's) and a run
named by its run id or its workflow id. `pipeflow cancel` / `pipeflow signal` call them; with
the embedded backend the engine's state in ./.pipeflow/ is held by the `pipeflow run` that is
running the pipeline (one engine per database), so the command leaves its request in
./.pipeflow/control/ and that process carries it out (`Inbox`). The inspection commands
(`pipeflow runs/status/history/tasks/result`) read a held state the same way (`InboxReader`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import converters

from ._errors import EngineError, PipelineError, RunCanceled
from .decider._control import CANCEL_SIGNAL  # the decider reads the reason of the cancel request that follows it

__all__ = ["READS", "Inbox", "InboxReader", "cancel", "canceled_error", "command", "find_any_run", "find_run", "post",
           "signal"]

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


def canceled_error(event: dict[str, Any], run_id: str | None) -> RunCanceled:
    """The RunCanceled a WorkflowExecutionCanceled event stands for, with the reason when one was given."""
    details = (event.get("workflowExecutionCanceledEventAttributes") or {}).get("details")
    from ._wire import load_json

    reason = None
    try:
        doc = load_json(details, "the close details") if details else None
        if isinstance(doc, dict) and isinstance(doc.get("reason"), str) and doc["reason"]:
            reason = doc["reason"]
    except ValueError:
        reason = details
    name = f"run {run_id}" if run_id else "the run"
    return RunCanceled(f"{name} was canceled" + (f": {reason}" if reason else ""), run_id=run_id, status="CANCELED")


# -- the embedded backend: requests to the `pipeflow run` that holds the engine --------------------


class Inbox:
    """Requests left in a directory by `pipeflow cancel/signal`, carried out by the process holding the engine."""

    def __init__(self, directory: Path, swf: Any, domain: str) -> None:
        self.directory = directory
        self.swf = swf
        self.domain = domain
        self._next = 0.0

    def wrap(self, check: Callable[[], None]) -> Callable[[], None]:
        """`check`, then the inbox served at most every SERVE_EVERY seconds (for `_run.wait`'s loop)."""

        def checked() -> None:
            check()
            now = time.monotonic()
            if now >= self._next:
                self._next = now + SERVE_EVERY
                self.serve()

        return checked

    def serve(self) -> None:
        """Carry out the waiting requests and write their answers."""
        from ._wire import load_json

        try:
            names = sorted(p for p in os.listdir(self.directory) if p.endswith(".json"))
        except OSError:
            return  # no inbox yet: nobody asked
        for name in names:
            path = self.directory / name
            try:
                request = load_json(path.read_text(encoding="utf-8"), "the request")
                path.unlink()
            except (OSError, ValueError):
                continue  # taken by another server, or half-written: the writer renames whole files
            if not isinstance(request, dict):
                continue
            answer = self._carry_out(request)
            _write(self.directory / (name[: -len(".json")] + ".answer"), answer)

    def _carry_out(self, request: dict[str, Any]) -> dict[str, Any]:
        from ._aws import error_code

        try:
            if request.get("op") == "cancel":
                execution = cancel(self.swf, self.domain, request["run"], request.get("reason"))
            elif request.get("op") == "signal":
                execution = find_run(self.swf, self.domain, request["run"])
                self.swf.signal_workflow_execution(domain=self.domain, workflowId=execution["workflowId"],
                                                   runId=execution["runId"], signalName=request["name"],
                                                   input=request["input"])
            elif request.get("op") == "read" and request.get("operation") in READS:
                method = getattr(self.swf, READS[request["operation"]])
                return {"response": _jsonable(method(**_unjson(request.get("params") or {})))}
            else:
                return {"error": f"unknown request {request.get('op')!r}"}
        except Exception as exc:  # answered to the command, which reports it
            return {"error": str(exc), "code": error_code(exc)}
        return {"execution": execution}


def post(directory: Path, request: dict[str, Any], timeout: float = ANSWER_WAIT) -> dict[str, str]:
    """Leave a request for the process holding the embedded engine; wait for its answer.

    Raises EngineError when it fails or no process answers within `timeout` seconds.
    """
    return dict(_exchange(directory, request, timeout)["execution"])


class HolderGone(EngineError):
    """The engine's state is no longer held: nobody will answer; open it directly."""


def _exchange(directory: Path, request: dict[str, Any], timeout: float,
              held: Callable[[], bool] | None = None) -> dict[str, Any]:
    """The holder's answer to `request`; with `held`, HolderGone once the state is free and the request untaken."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = uuid.uuid4().hex
    request_path, answer_path = directory / f"{key}.json", directory / f"{key}.answer"
    _write(request_path, request)
    deadline = look = time.monotonic() + timeout
    if held is not None:
        look = time.monotonic() + 1.0  # then once a second: is the state still held?
    while not answer_path.exists():
        now = time.monotonic()
        gone = False
        if now >= look:
            look = now + 1.0
            gone = request_path.exists() and held is not None and not held()
        if now > deadline or gone:
            try:
                request_path.unlink()
            except OSError:  # taken at the last moment
                if gone:
                    continue  # its answer is on its way
            if gone:
                raise HolderGone("the process holding the embedded engine's state has let it go")
            raise EngineError(f"the embedded engine's state is held by another process, which did not answer "
                              f"within {timeout:.0f}s (a `pipeflow run` of an older pipeflow, or `pipeflow gc`?)")
        time.sleep(0.02)
    answer: dict[str, Any] = json.loads(answer_path.read_text(encoding="utf-8"), object_hook=_from_json)
    answer_path.unlink()
    if "error" in answer:
        raise EngineError(answer["error"], code=answer.get("code"))
    return answer


class InboxReader:
    """A read-only, boto3-shaped SWF client answered by the process holding the embedded engine.

    Its methods are those of `READS`; each call is a request in the inbox. `held` (see
    `_exchange`) lets a call notice that the holder let the state go (HolderGone).
    """

    def __init__(self, directory: Path, timeout: float = ANSWER_WAIT, held: Callable[[], bool] | None = None) -> None:
        self.directory = directory
        self.timeout = timeout
        self.held = held

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """SWF `operation` (one of READS) with boto3's params: the holder's response, timestamps as datetimes."""
        request = {"op": "read", "operation": operation, "params": _jsonable(params)}
        return dict(_exchange(self.directory, request, self.timeout, self.held)["response"])

    def list_open_workflow_executions(self, **params: Any) -> dict[str, Any]:
        return self.call("ListOpenWorkflowExecutions", params)

    def list_closed_workflow_executions(self, **params: Any) -> dict[str, Any]:
        return self.call("ListClosedWorkflowExecutions", params)

    def describe_workflow_execution(self, **params: Any) -> dict[str, Any]:
        return self.call("DescribeWorkflowExecution", params)

    def get_workflow_execution_history(self, **params: Any) -> dict[str, Any]:
        return self.call("GetWorkflowExecutionHistory", params)


def _jsonable(value: Any) -> Any:
    """`value` with its datetimes as `{"$datetime": iso}` (JSON cannot carry them)."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    return value


def _from_json(doc: dict[str, Any]) -> Any:
    if len(doc) == 1 and isinstance(doc.get("$datetime"), str):
        return datetime.fromisoformat(doc["$datetime"])
    return doc


def _unjson(value: Any) -> Any:
    """The params of a read request with their datetimes back (for a request read with plain json.loads)."""
    return json.loads(json.dumps(value), object_hook=_from_json)


def _write(path: Path, doc: dict[str, Any]) -> None:
    """Write a whole file at once: a reader never sees it half-written."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc), encoding="utf-8")
    os.replace(tmp, path)


# -- the commands ----------------------------------------------------------------------------------


def command(op: str, run: str, *, backend: str, domain: str | None, endpoint_url: str | None, region: str | None,
            reason: str | None = None, name: str = "", value: Any = None) -> dict[str, str]:
    """`pipeflow cancel` (op "cancel") and `pipeflow signal` (op "signal"): the run's execution once done."""
    if op == "signal":
        _check_name(name)
    if backend == "swf":
        from ._aws import swf_client
        from ._run_swf import _service_errors

        assert domain is not None
        with _service_errors(domain):
            swf = swf_client(endpoint_url=endpoint_url, region=region)
            return _do(swf, domain, op, run, reason, name, value)
    from ._run import DOMAIN, STATE_DB
    from .engine import Engine

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
        return post(STATE_DB.parent / "control", request)
    with engine:
        from ._run import adopt, close_canceled

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
