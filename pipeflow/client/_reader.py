"""`pipeflow runs`, `status`, `history`, `tasks`, `result`: what ran, read from the engine's records.

They read SWF's own records (ListOpen/ClosedWorkflowExecutions, DescribeWorkflowExecution,
GetWorkflowExecutionHistory) through any SWF client: boto3's (`--backend swf`), or the embedded
engine's state in ./.pipeflow/. That state is held by one process at a time (a `pipeflow run`, a
notebook's `pf.Client`): while it is held the reads go through its control inbox
(`pipeflow.running.InboxReader`), and when nobody holds it they open it here.

Each command builds a document (`--json` prints it on stdout) and a text for a terminal:
aligned tables, times in UTC, long texts cut to the terminal's width.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .._errors import EngineError, PipeflowError, PipelineError
from ..running import held, tags_of


PAGE = 1000  # executions or events per page (SWF's maximum)
CLOSE_STATUSES = ("COMPLETED", "FAILED", "CANCELED", "TERMINATED", "CONTINUED_AS_NEW", "TIMED_OUT")
# `--status`: RUNNING (an open run; OPEN says the same), CLOSED (any close), or one close status.
STATUSES = ("RUNNING", "OPEN", "CLOSED", *CLOSE_STATUSES)
TEXT_LIMIT = 300  # characters of a free text (an error, an event's details) in a table not on a terminal


# -- reading: an SWF client for the backend --------------------------------------------------------


class Reader:
    """The read calls of the inspection commands on one SWF client, SWF's errors as EngineError."""

    def __init__(self, swf: Any, domain: str) -> None:
        self.swf = swf
        self.domain = domain

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        from ..endpoint import service_errors

        with service_errors(self.domain):
            return dict(getattr(self.swf, method)(domain=self.domain, **params))

    def find(self, run: str) -> dict[str, Any]:
        """The execution info of a run id, or of a workflow id's latest run (open or closed)."""
        from ..endpoint import service_errors
        from ..running import find_any_run

        with service_errors(self.domain):
            return find_any_run(self.swf, self.domain, run)

    def executions(self, closed: bool, **filters: Any) -> Iterator[dict[str, Any]]:
        """Execution infos, newest first, page by page."""
        method = "list_closed_workflow_executions" if closed else "list_open_workflow_executions"
        params: dict[str, Any] = {"startTimeFilter": {"oldestDate": 0}, "maximumPageSize": PAGE, **filters}
        while True:
            page = self.call(method, **params)
            yield from page.get("executionInfos", ())
            if not page.get("nextPageToken"):
                return
            params["nextPageToken"] = page["nextPageToken"]

    def events(self, execution: dict[str, str]) -> list[dict[str, Any]]:
        """The whole history of an execution, oldest first."""
        events: list[dict[str, Any]] = []
        params: dict[str, Any] = {"execution": execution, "maximumPageSize": PAGE}
        while True:
            page = self.call("get_workflow_execution_history", **params)
            events.extend(page.get("events", ()))
            if not page.get("nextPageToken"):
                return events
            params["nextPageToken"] = page["nextPageToken"]


class _EmbeddedSWF:
    """The embedded state's read calls: on the engine opened here, or through the holder's inbox."""

    def __init__(self, db: Path) -> None:
        from ..running import InboxReader

        self.db = db
        self.engine: Any = None
        self.inbox = InboxReader(db.parent / "control", held=lambda: held(db))

    def _open(self) -> bool:
        from ..engine import Engine, StoreDamaged

        if held(self.db):
            return False
        try:
            self.engine = Engine(db=str(self.db))
        except StoreDamaged:
            raise  # its own message: what is wrong and `--recover`
        except EngineError:  # taken between the look and the open
            return False
        return True

    def _call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        from ..running import READS, HolderGone

        for _ in range(3):
            if self.engine is not None or self._open():
                return dict(getattr(self.engine.client(), READS[operation])(**params))
            try:
                return self.inbox.call(operation, params)
            except HolderGone:
                continue  # let go while we asked: open it here
        raise EngineError(f"the embedded engine's state {self.db} changes hands too often to be read; try again")

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None

    def list_open_workflow_executions(self, **params: Any) -> dict[str, Any]:
        return self._call("ListOpenWorkflowExecutions", params)

    def list_closed_workflow_executions(self, **params: Any) -> dict[str, Any]:
        return self._call("ListClosedWorkflowExecutions", params)

    def describe_workflow_execution(self, **params: Any) -> dict[str, Any]:
        return self._call("DescribeWorkflowExecution", params)

    def get_workflow_execution_history(self, **params: Any) -> dict[str, Any]:
        return self._call("GetWorkflowExecutionHistory", params)



@contextmanager
def open_reader(backend: str, domain: str | None, endpoint_url: str | None, region: str | None) -> Iterator[Reader]:
    """A Reader on SWF (`--backend swf`) or on the embedded state in ./.pipeflow/."""
    if backend == "swf":
        from ..endpoint import service_errors, swf_client

        assert domain is not None
        with service_errors(domain):
            swf = swf_client(endpoint_url=endpoint_url, region=region)
        yield Reader(swf, domain)
        return
    from ..running import DOMAIN, STATE_DB

    if not STATE_DB.is_file():
        raise EngineError(f"no run was started here: no engine state at {STATE_DB} (run the command where "
                          "`pipeflow run` ran, or give --backend swf --domain D for runs on SWF)",
                          code="UnknownResourceFault")
    embedded = _EmbeddedSWF(STATE_DB)
    try:
        yield Reader(embedded, DOMAIN)
    finally:
        embedded.close()


# -- the documents (what --json prints) ------------------------------------------------------------


def _status(info: dict[str, Any]) -> str:
    return "RUNNING" if info.get("executionStatus", "OPEN") == "OPEN" else str(info.get("closeStatus", "CLOSED"))


def iso_utc(value: Any) -> str | None:
    """A timestamp (datetime, pandas Timestamp, epoch seconds, ISO text) as ISO 8601 in UTC; None when absent (None, NaN, NaT)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or type(value).__name__ == "NaTType":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    elif not isinstance(value, datetime):
        value = datetime.fromtimestamp(float(value), timezone.utc)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return str(value.astimezone(timezone.utc).isoformat())


def seconds_between(start: Any, end: Any) -> float | None:
    """Seconds from `start` to `end` (now when None), both as `iso_utc` takes them; None without a start."""
    a, b = iso_utc(start), iso_utc(end)
    if a is None:
        return None
    finish = datetime.fromisoformat(b) if b is not None else datetime.now(timezone.utc)
    return round((finish - datetime.fromisoformat(a)).total_seconds(), 3)


def _run_row(info: dict[str, Any]) -> dict[str, Any]:
    execution, wtype = info["execution"], info.get("workflowType") or {}
    return {
        "workflow_id": execution["workflowId"], "run_id": execution["runId"],
        "pipeline": wtype.get("name"), "version": wtype.get("version"), "status": _status(info),
        "started": iso_utc(info.get("startTimestamp")), "closed": iso_utc(info.get("closeTimestamp")),
        "duration": seconds_between(info.get("startTimestamp"), info.get("closeTimestamp")),
        "tags": tags_of(info),
    }


def list_runs(reader: Reader, status: str | None = None, limit: int = 50, *, tag: str | None = None
              ) -> list[dict[str, Any]]:
    """The `limit` latest top-level runs (stages and shards are their parents' tasks), newest first.

    `tag` ("key=value"): only runs with that tag. SWF takes one filter per list call (a tag, a
    close status, a type or an id): the tag goes to SWF as its tagFilter, the status is checked here.
    """
    from ..running import tag_filter

    tag = tag_filter(tag)
    wanted = (status or "").upper()
    if wanted and wanted not in STATUSES:
        raise PipelineError(f"--status {status}: give one of {', '.join(STATUSES)}")
    kinds = [False, True]
    if wanted in ("RUNNING", "OPEN"):
        kinds = [False]
    elif wanted:
        kinds = [True]
    filters = {"closeStatusFilter": {"status": wanted}} if wanted in CLOSE_STATUSES else {}
    if tag is not None:
        filters = {"tagFilter": {"tag": tag}}
    found: list[dict[str, Any]] = []
    for closed in kinds:
        taken = 0
        for info in reader.executions(closed, **(filters if closed or tag is not None else {})):
            if "parent" in info or (wanted in CLOSE_STATUSES and info.get("closeStatus") != wanted):
                continue  # moto ignores list filters
            if tag is not None and tag not in (info.get("tagList") or ()):
                continue  # moto's tag filter lets some through
            found.append(info)
            taken += 1
            if taken >= limit:
                break
    found.sort(key=lambda info: iso_utc(info.get("startTimestamp")) or "", reverse=True)
    return [_run_row(info) for info in found[:limit]]


def _history_events(reader: Reader, info: dict[str, Any]) -> list[dict[str, Any]]:
    return reader.events({"workflowId": info["execution"]["workflowId"], "runId": info["execution"]["runId"]})


def status_doc(reader: Reader, run: str) -> dict[str, Any]:
    """A run's status: ids, pipeline, status, times, progress, open counts, failure."""
    from .. import wire
    from ._history import progress_of

    info = reader.find(run)
    doc = _run_row(info)
    execution = {"workflowId": doc["workflow_id"], "runId": doc["run_id"]}
    if "parent" in info:
        doc["parent"] = {"workflow_id": info["parent"]["workflowId"], "run_id": info["parent"]["runId"]}
    events = _history_events(reader, info)
    progress = progress_of(events)
    doc["progress"] = None if progress is None else {
        "done": int(progress[0]), "total": int(progress[1]),
        # False: a map's size is not known yet, the total is a lower bound ("of at least N"); a closed run ran all it will
        "exact": doc["status"] != "RUNNING" or _total_exact(events)}
    doc["open"] = None
    doc["error"] = None
    if doc["status"] == "RUNNING":
        counts = reader.call("describe_workflow_execution", execution=execution).get("openCounts") or {}
        doc["open"] = {"tasks": counts.get("openActivityTasks", 0), "timers": counts.get("openTimers", 0),
                       "child_runs": counts.get("openChildWorkflowExecutions", 0)}
        doc["cancel_requested"] = bool(info.get("cancelRequested"))
    elif events and events[-1]["eventType"] != "WorkflowExecutionCompleted":
        try:  # raises the run's failure, which status reports (the result is `pipeflow result`'s)
            wire.decode_close_event(events[-1], run_id=doc["run_id"], store=run_store(events),
                                    workflow_id=doc["workflow_id"])
        except PipeflowError as exc:
            doc["error"] = str(exc)
    doc["events"] = len(events)
    return doc


def _total_exact(events: list[dict[str, Any]]) -> bool:
    """Whether the last progress marker's total is the run's whole (no map of unknown size ahead)."""
    from .. import wire
    from ..decider import PROGRESS

    for event in reversed(events):
        attrs = event.get("markerRecordedEventAttributes") or {}
        if event["eventType"] == "MarkerRecorded" and attrs.get("markerName") == PROGRESS:
            try:
                return wire.load_json(attrs.get("details") or "", "a progress marker").get("exact") is not False
            except (ValueError, AttributeError):
                return True
    return True


def run_store(events: list[dict[str, Any]], store: str | None = None, who: str = "command",
              fix: str = "set PIPEFLOW_STORE={store} to read it") -> str | None:
    """The store to read a run's offloaded values from: the one it names, when under this process's own.

    This process's store is `store`, else PIPEFLOW_STORE, else ./.pipeflow/payloads here; a store
    named only by the run's input is never opened (anyone who starts a run writes that input).
    None when the run names none. `events`: its history (the first event is enough); `who` and
    `fix` (`{store}`: the store the run names) word the refusal of a store elsewhere.
    """
    from .. import wire
    from ..running import default_store

    for event in events[:1]:
        attrs = event.get("workflowExecutionStartedEventAttributes") or {}
        try:
            named = wire.decode_workflow_input(attrs.get("input"))[1]
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(named, str):
            return None
        own = default_store(store or os.environ.get("PIPEFLOW_STORE") or None)
        return wire.run_store(named, own, who, fix=fix.format(store=named.split("#", 1)[0]))
    return None


def result_of(reader: Reader, run: str) -> tuple[dict[str, Any], Any]:
    """`(run row, decoded result)` of a closed run; raises its failure (TaskFailed, RunFailed, RunCanceled)."""
    from .. import wire

    info = reader.find(run)
    row = _run_row(info)
    if row["status"] == "RUNNING":
        raise PipelineError(f"run {row['run_id']} (workflow {row['workflow_id']}) is still running: it has no "
                            f"result yet (`pipeflow status {row['workflow_id']}` shows its progress)")
    execution = {"workflowId": row["workflow_id"], "runId": row["run_id"]}
    first = reader.call("get_workflow_execution_history", execution=execution, maximumPageSize=1)["events"][:1]
    last = reader.call("get_workflow_execution_history", execution=execution, maximumPageSize=1,
                       reverseOrder=True)["events"][:1]
    if not last:
        raise EngineError(f"run {row['run_id']} has no history", code="UnknownResourceFault")
    return row, wire.decode_close_event(last[0], run_id=row["run_id"], store=run_store(first),
                                        workflow_id=row["workflow_id"])


def _records(frame: Any) -> list[dict[str, Any]]:
    """A DataFrame's rows as JSON-ready dicts: timestamps ISO in UTC, NaN/NaT as None, numpy as Python."""
    rows: list[dict[str, Any]] = []
    columns = list(frame.columns)
    for values in frame.itertuples(index=False, name=None):
        row: dict[str, Any] = {}
        for name, value in zip(columns, values):
            row[name] = _plain(value)
            if name.endswith("_size") and isinstance(row[name], float):  # a count of characters; NaN (none) is null
                row[name] = int(row[name])
        rows.append(row)
    return rows


def _plain(value: Any) -> Any:
    if value is None or type(value).__name__ == "NaTType":
        return None
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        return _plain(value.item())
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def tasks_doc(reader: Reader, run: str, expand: bool = False) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """`(run row, one row per task attempt)` from the run's history (`pipeflow.client.tasks_frame`).

    `expand`: with the attempts inside its stages and shards, read from their histories (`expand_tasks`).
    """
    from ._children import expand_tasks
    from ._tasks import tasks_frame

    info = reader.find(run)
    frame = tasks_frame(_history_events(reader, info))
    return _run_row(info), _records(expand_tasks(frame, reader.events) if expand else frame)


def history_doc(reader: Reader, run: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """`(run row, one row per history event)` (`pipeflow.client.history_frame`)."""
    from ._history import history_frame

    info = reader.find(run)
    return _run_row(info), _records(history_frame(_history_events(reader, info)))


# -- rendering for a terminal ----------------------------------------------------------------------
