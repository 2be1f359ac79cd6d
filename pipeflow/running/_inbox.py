"""The control inbox: how commands reach the process holding an embedded state.

One process holds ./.pipeflow/state.sqlite at a time (a `pipeflow run`, a notebook's Client).
`pipeflow cancel/signal` and the inspection commands (`runs/status/history/tasks/result`) of
other processes leave a request file in ./.pipeflow/control/; the holder's `Inbox` carries it
out and writes the answer beside it, which `InboxReader` (a read-only SWF client) waits for.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from .._errors import EngineError
from ._control import ANSWER_WAIT, READS, SERVE_EVERY, cancel, find_run

log = logging.getLogger("pipeflow.control")



# -- the embedded backend: requests to the `pipeflow run` that holds the engine --------------------


class Inbox:
    """Requests left in a directory by `pipeflow cancel/signal`, carried out by the process holding the engine."""

    def __init__(self, directory: Path, swf: Any, domain: str) -> None:
        self.directory = directory
        self.swf = swf
        self.domain = domain
        self._next = 0.0

    def wrap(self, check: Callable[[], None]) -> Callable[[], None]:
        """`check`, then the inbox served at most every SERVE_EVERY seconds (for `_executions.wait`'s loop)."""

        def checked() -> None:
            check()
            now = time.monotonic()
            if now >= self._next:
                self._next = now + SERVE_EVERY
                self.serve()

        return checked

    def serve(self) -> None:
        """Carry out the waiting requests and write their answers."""
        from ..wire import load_json

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
        from ..endpoint import error_code

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
