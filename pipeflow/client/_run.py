"""`Run`: one execution seen from Python: its status, result, progress, tables and timeline."""

from __future__ import annotations

import html
import logging
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .._errors import PipelineError
from ..running import DEFAULT

if TYPE_CHECKING:
    from ._client import Client


log = logging.getLogger("pipeflow.client")

EMBEDDED_DELAY = 0.05  # most seconds between looks at an embedded run's status while waiting
SWF_DELAY = 1.0  # on SWF, which throttles chatty clients


class Run:
    """One execution of a pipeline: its status, result, tasks and history, read when asked."""

    def __init__(self, client: Client, workflow_id: str, run_id: str) -> None:
        self.client = client
        self.workflow_id = workflow_id
        self.run_id = run_id
        self._info: dict[str, Any] | None = None  # the last executionInfo read
        self._events: list[dict[str, Any]] = []  # the history read so far, oldest first
        self._root: Any = DEFAULT  # the store root the run was started with, when trusted (see `_store`)
        self._foreign: str | None = None  # the store it names, when not trusted

    @property
    def execution(self) -> dict[str, str]:
        return {"workflowId": self.workflow_id, "runId": self.run_id}

    def _describe(self) -> dict[str, Any]:
        if self._info is None or self._info.get("executionStatus") != "CLOSED":
            with self.client._errors():
                swf = self.client._swf()
                self._info = dict(swf.describe_workflow_execution(domain=self.client.domain,
                                                                  execution=self.execution)["executionInfo"])
                self._follow(swf)
        return self._info

    def _follow(self, swf: Any) -> None:
        """A run that continued as new (`pf.repeat`) is followed: this Run becomes the run it goes on as."""
        while self._info is not None and self._info.get("closeStatus") == "CONTINUED_AS_NEW":
            event = swf.get_workflow_execution_history(domain=self.client.domain, execution=self.execution,
                                                       reverseOrder=True, maximumPageSize=1)["events"][0]
            self.run_id = event["workflowExecutionContinuedAsNewEventAttributes"]["newExecutionRunId"]
            self._events = []
            self._info = dict(swf.describe_workflow_execution(domain=self.client.domain,
                                                              execution=self.execution)["executionInfo"])

    @property
    def status(self) -> str:
        """RUNNING, or how it closed: COMPLETED, FAILED, CANCELED, TERMINATED, TIMED_OUT, CONTINUED_AS_NEW."""
        return _status(self._describe())

    @property
    def pipeline(self) -> str:
        """The pipeline's name (its workflow type)."""
        return str(self._describe()["workflowType"]["name"])

    @property
    def tags(self) -> dict[str, str]:
        """The run's tags as {key: value} (`pf.run(..., tags=...)`, `pipeflow run --tag`)."""
        from ..running import tags_of

        return tags_of(self._describe())

    def wait(self, timeout: float | None = None, progress: bool = True) -> Run:
        """Wait for the run to close (a progress bar on stderr or in the notebook); raises TimeoutError."""
        from ..running import wait_closed

        if self._describe().get("executionStatus") == "CLOSED":
            return self
        bar = None
        swf = self.client._swf()
        if progress:
            from ..running import ProgressLine

            bar = ProgressLine(swf, self.client.domain, self.execution, bar=_bar_class()).start()
        delay = EMBEDDED_DELAY if self.client.backend == "embedded" else SWF_DELAY
        try:
            with self.client._errors():
                info = wait_closed(swf, self.client.domain, self.execution, check=self.client._check,
                                   max_delay=delay, timeout=timeout)
                while info is not None and info.get("closeStatus") == "CONTINUED_AS_NEW":  # each run of a repeat
                    self._info = dict(info)
                    self._follow(swf)
                    info = wait_closed(swf, self.client.domain, self.execution, check=self.client._check,
                                       max_delay=delay, timeout=timeout)
        finally:
            if bar is not None:
                bar.close()
        if info is None:
            raise TimeoutError(f"run {self.run_id} (workflow {self.workflow_id}) is still running after {timeout}s")
        self._info = dict(info)
        return self

    def result(self, preview: int | None = None) -> Any:
        """The run's result (waiting for it to close), or raise its failure (TaskFailed, RunFailed, ...).

        Offloaded values are read now. `preview=n`: at most n rows of a DataFrame (of an offloaded
        one only the first Parquet row groups are read, unverified: its checksum covers the whole
        object) and n items of a list.
        """
        import converters

        from .. import wire

        self.wait(progress=False)
        with self.client._errors():
            page = self.client._swf().get_workflow_execution_history(
                domain=self.client.domain, execution=self.execution, reverseOrder=True, maximumPageSize=1)
        event = page["events"][0]
        attrs = event.get("workflowExecutionCompletedEventAttributes")
        store = self._store()
        try:
            if preview is None or attrs is None or attrs.get("result") is None:
                return wire.decode_close_event(event, run_id=self.run_id, store=store)
            from ._preview import preview_result

            return preview_result(attrs["result"], store, preview)
        except converters.StoreError as exc:
            if self._foreign is None:
                raise
            raise converters.StoreError(
                f"run {self.run_id} keeps its values in {self._foreign}, not in this client's store "
                f"{self.client.store}: make the Client with store={self._foreign!r} to read them ({exc})"
            ) from None

    def _store(self) -> str | None:
        """The store to read the run's values with: the one it was started with, when this client trusts it.

        The run's input document names a store, which anyone who starts a run chooses: it is used
        only when it lies under the client's own store (or was given to `submit` here). A run
        started without a store, or naming another (`_foreign` says which), reads from the client's.
        """
        import converters

        from .. import wire

        if self._root is DEFAULT:
            events = self._events[:1]
            if not events:
                with self.client._errors():
                    events = self.client._swf().get_workflow_execution_history(
                        domain=self.client.domain, execution=self.execution, maximumPageSize=1)["events"]
            attrs = events[0].get("workflowExecutionStartedEventAttributes") or {}
            try:
                named = wire.decode_workflow_input(attrs.get("input"))[1]
            except (ValueError, KeyError, TypeError):  # not started by pipeflow
                named = None
            try:
                self._root = self.client.store if named is None else \
                    wire.run_store(named, self.client.store, "client")
            except converters.StoreError:  # read through the client's own store: its references are refused
                self._root, self._foreign = self.client.store, wire.shown_uri(named)
        return self._root  # type: ignore[no-any-return]

    def events(self) -> list[dict[str, Any]]:
        """The run's history events so far (boto3's shape), oldest first; only new ones are read."""
        from ..running import new_events

        if self._events and self._events[-1]["eventType"] in _CLOSING:
            return self._events
        with self.client._errors():
            after = self._events[-1]["eventId"] if self._events else 0
            self._events.extend(new_events(self.client._swf(), self.client.domain, self.execution, after))
        return self._events

    def tasks(self, expand: bool = False) -> Any:
        """A DataFrame, one row per task attempt: step, task, attempt, status, times, worker, sizes, error.

        A stage's or shard's attempt is one row (`task`: the stage's name) with its child execution's
        `child_workflow_id` and `child_run_id`. `expand=True` adds after it the attempts of that child
        (their histories read now), recursively, with their own canvas paths (`2.0.1` is in the stage
        at `2`), `parent` (the child workflow id) and `depth`.
        """
        from ._tasks import tasks_frame

        frame = tasks_frame(self.events())
        if expand:
            from ._children import expand_tasks, history_reader

            frame = expand_tasks(frame, history_reader(self.client))
        return frame

    def history(self) -> Any:
        """A DataFrame, one row per history event."""
        from ._history import history_frame

        return history_frame(self.events())

    def logs(self, step: str | None = None, attempt: int | None = None) -> str:
        """What the run's task attempts printed and logged, as text (the attempts that have ended so far).

        Every attempt's log, headed `== <step> (<task>) attempt N ==`, as `pipeflow logs` prints
        them; `step` (a step path or a task name) keeps one step, `attempt` one attempt; with both,
        the text of that attempt alone, without a heading. A log holds the attempt's stdout,
        stderr, `logging` records (INFO and above) and its programs' output, its last MiB. Logs
        live in the run's store: a run without one keeps only each failed attempt's last 4 KiB.
        Raises PipelineError when `step` or `attempt` names no attempt of the run.
        """
        from ._logs import attempt_logs, render_logs

        found = attempt_logs(self.events(), self._store(), self.workflow_id, self.run_id, step, attempt)
        return render_logs(found, headed=not (step is not None and attempt is not None))

    def timeline(self, expand: bool = False) -> Any:
        """A matplotlib Figure: a Gantt chart of the task attempts, coloured by status.

        `expand=True` draws the attempts inside stages and shards too, on rows under their stage's.
        Either way the stages' histories are read: the title counts the retries inside them.
        """
        from ._timeline import timeline

        figure = timeline(self.tasks(expand=True), expand=expand)
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None and getattr(figure.canvas, "manager", None) is not None:
            pyplot.close(figure)  # shown once, as the value: Jupyter's inline backend would show it again
        return figure

    def _attempts(self) -> Any:
        from ._children import history_reader
        from ._stats import attempts_frame

        return attempts_frame(self.events(), history_reader(self.client))

    def diff(self, other: Run) -> Any:
        """A DataFrame comparing this run (A) with `other` (B), one row per step path, stages expanded.

        Columns: step, task, `change` ("added": only in B, "missing": only in A, else what differs
        among task, status, retries, input, result and duration), status_a/b, attempts_a/b,
        duration_a/b (seconds, last attempt), duration_change, and whether `input` and `result`
        are "same" or "differs" by checksum (an offloaded value by its content, not its place).
        """
        from ._diff import diff_frame

        return diff_frame(self._attempts(), other._attempts())

    def stats(self) -> Any:
        """Metrology of the run, stages expanded: a `Stats` with `tasks` (per task name: steps, attempts,
        failures, retries, queue wait and run time p50/p95/max in seconds, bytes in and out),
        `critical_path` (the chain of attempts that set the run's duration) and `duration`."""
        from ._stats import run_stats

        return run_stats(self._attempts(), self._describe().get("startTimestamp"))

    def cancel(self, reason: str | None = None) -> None:
        """Ask the run to stop: its open steps are canceled and it closes CANCELED."""
        self._open_or_refuse("canceled")
        self.client._control("cancel", self, reason=reason)

    def signal(self, name: str, value: Any = None) -> None:
        """Send the signal `name`: the run's `pf.wait_signal(name)` step completes with `value`."""
        self._open_or_refuse("signalled")
        self.client._control("signal", self, name=name, value=value)

    def _open_or_refuse(self, what: str) -> None:
        status = self.status
        if status != "RUNNING":
            raise PipelineError(f"run {self.run_id} (workflow {self.workflow_id}) has already closed ({status}): "
                                f"only an open run can be {what}")

    # -- display -------------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """Pipeline, ids, status, progress (done, total), duration in seconds and the last failure."""
        from ..running import StepCounts

        info = self._describe()
        counts = StepCounts()
        for event in self.events():
            counts.add(event)
        start, end = info.get("startTimestamp"), info.get("closeTimestamp")
        duration = None
        if isinstance(start, datetime):
            duration = ((end if isinstance(end, datetime) else datetime.now(timezone.utc)) - start).total_seconds()
        return {"pipeline": info["workflowType"]["name"], "workflow_id": self.workflow_id, "run_id": self.run_id,
                "status": _status(info), "progress": counts.steps(), "duration": duration,
                "failure": _last_failure(self._events)}

    def _repr_html_(self) -> str:
        doc = self.summary()
        done, total = doc["progress"]
        rows = [("pipeline", doc["pipeline"]), ("workflow id", doc["workflow_id"]), ("run id", doc["run_id"]),
                ("status", doc["status"]), ("progress", f"{done}/{total} steps"),
                ("duration", "-" if doc["duration"] is None else f"{doc['duration']:.1f}s")]
        if doc["failure"]:
            rows.append(("last failure", doc["failure"]))
        body = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
                       f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>" for k, v in rows)
        return f"<table class='pipeflow-run'>{body}</table>"

    def __repr__(self) -> str:
        status = _status(self._info) if self._info is not None else "?"
        return f"<pipeflow.Run {self.workflow_id} run {self.run_id} {status}>"


_CLOSING = frozenset({"WorkflowExecutionCompleted", "WorkflowExecutionFailed", "WorkflowExecutionCanceled",
                      "WorkflowExecutionTerminated", "WorkflowExecutionTimedOut", "WorkflowExecutionContinuedAsNew"})


def _status(info: dict[str, Any]) -> str:
    return "RUNNING" if info.get("executionStatus", "OPEN") == "OPEN" else str(info.get("closeStatus", "CLOSED"))


def _last_failure(events: list[dict[str, Any]]) -> str | None:
    """The reason of the run's failure, or of its last failed task attempt."""
    from ..wire import is_handback

    for event in reversed(events):
        kind = event["eventType"]
        if kind in ("WorkflowExecutionFailed", "ActivityTaskFailed", "ChildWorkflowExecutionFailed"):
            attrs: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventAttributes")), {})
            if not is_handback(attrs.get("reason")):  # a worker shutting down gave it back: no failure
                return str(attrs.get("reason") or kind)
        if kind == "ActivityTaskTimedOut":
            return f"a task timed out ({event['activityTaskTimedOutEventAttributes'].get('timeoutType')})"
    return None


def _bar_class() -> Any:
    """tqdm.auto's bar (a widget in a notebook) when ipywidgets is there, else tqdm's text bar."""
    import importlib.util

    if importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm as auto

        return auto
    from tqdm import tqdm

    return tqdm
