"""Control of a running pipeline from outside: cancel it, signal it.

`cancel()` and `signal()` take any SWF client (boto3's, or the embedded engine's) and a run
named by its run id or its workflow id. `pipeflow cancel` / `pipeflow signal` call them; with
the embedded backend the engine's state in ./.pipeflow/ is held by the `pipeflow run` that is
running the pipeline (one engine per database), so the command leaves its request in
./.pipeflow/control/ and that process carries it out (`Inbox`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import converters

from ._errors import EngineError, PipelineError, RunCanceled
from .decider._control import CANCEL_SIGNAL  # the decider reads the reason of the cancel request that follows it

__all__ = ["Inbox", "cancel", "canceled_error", "command", "find_run", "post", "signal"]

log = logging.getLogger("pipeflow.control")

SERVE_EVERY = 0.25  # seconds between looks at the inbox by a running `pipeflow run`
_WORKFLOW_ID = re.compile(r"[^:/|\x00-\x1f\x7f-\x9f]{1,256}")
ANSWER_WAIT = 15.0  # seconds a command waits for the running `pipeflow run` to answer


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
    raise EngineError(f"no open run {run!r} in domain {domain!r}: give the run id or workflow id of a run "
                      "that has not closed", code="UnknownResourceFault")


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
    reason = None
    try:
        doc = json.loads(details) if details else None
        if isinstance(doc, dict) and doc.get("reason"):
            reason = str(doc["reason"])
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
        try:
            names = sorted(p for p in os.listdir(self.directory) if p.endswith(".json"))
        except OSError:
            return  # no inbox yet: nobody asked
        for name in names:
            path = self.directory / name
            try:
                request = json.loads(path.read_text(encoding="utf-8"))
                path.unlink()
            except (OSError, ValueError):
                continue  # taken by another server, or half-written: the writer renames whole files
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
            else:
                return {"error": f"unknown request {request.get('op')!r}"}
        except Exception as exc:  # answered to the command, which reports it
            return {"error": str(exc), "code": error_code(exc)}
        return {"execution": execution}


def post(directory: Path, request: dict[str, Any], timeout: float = ANSWER_WAIT) -> dict[str, str]:
    """Leave a request for the process holding the embedded engine; wait for its answer.

    Raises EngineError when it fails or no process answers within `timeout` seconds.
    """
    directory.mkdir(parents=True, exist_ok=True)
    key = uuid.uuid4().hex
    request_path, answer_path = directory / f"{key}.json", directory / f"{key}.answer"
    _write(request_path, request)
    deadline = time.monotonic() + timeout
    while not answer_path.exists():
        if time.monotonic() > deadline:
            try:
                request_path.unlink()
            except OSError:  # taken at the last moment: its answer is lost, say so
                pass
            raise EngineError(f"the embedded engine's state is held by another process, which did not answer "
                              f"within {timeout:.0f}s (a `pipeflow run` of an older pipeflow, or `pipeflow gc`?)")
        time.sleep(0.05)
    answer = json.loads(answer_path.read_text(encoding="utf-8"))
    answer_path.unlink()
    if "error" in answer:
        raise EngineError(answer["error"], code=answer.get("code"))
    return dict(answer["execution"])


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
        execution = _do(engine.client(), DOMAIN, op, run, reason, name, value)
    # Nothing decides the run now: it acts on the request when a `pipeflow run` of its pipeline runs here.
    log.warning("no `pipeflow run` is running here: run %s sees the %s when its pipeline next runs in this "
                "directory", execution["runId"], "cancel request" if op == "cancel" else f"signal {name}")
    return execution


def _do(swf: Any, domain: str, op: str, run: str, reason: str | None, name: str, value: Any) -> dict[str, str]:
    if op == "cancel":
        return cancel(swf, domain, run, reason)
    return signal(swf, domain, run, name, value)
