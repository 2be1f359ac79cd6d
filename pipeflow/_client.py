"""`Client` and `Run`: submit pipelines and look at their runs from Python (a notebook, a script).

`pf.Client()` uses the embedded engine with its state in ./.pipeflow/ (as `pipeflow run` does). The
engine is opened on first use and held until `close()` (or the interpreter's exit): one process
holds an embedded state at a time, so this one serves the control inbox meanwhile and `pipeflow
cancel/signal/runs/status/...` from a terminal reach it. On first submit the deciders and a worker
pool start on background threads (`pipeflow._service`), so `submit` returns at once. Clients of one
process on one state directory share its engine.

`pf.Client.swf(domain=...)` and `pf.Client(endpoint_url=...)` (a `pipeflow server`) use boto3. They
decide and work nothing here unless `workers=N` is given: the steps go to `pipeflow decider` and
`pipeflow worker` processes on the domain.
"""

from __future__ import annotations

import atexit
import html
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

from ._errors import EngineError, PipelineError
from ._run import DEFAULT, DOMAIN
from ._service import Holder, hold, release

__all__ = ["Client", "Run"]

log = logging.getLogger("pipeflow.client")

EMBEDDED_DELAY = 0.05  # most seconds between looks at an embedded run's status while waiting
SWF_DELAY = 1.0  # on SWF, which throttles chatty clients


class Client:
    """Where pipelines run: the embedded engine (`Client()`), a `pipeflow server`, or Amazon SWF.

    Args:
        endpoint_url: an SWF endpoint (a `pipeflow server`); without it, the embedded engine.
        domain: the SWF domain (default "pipeflow", the embedded engine's).
        region: the AWS region (SWF).
        workers: worker processes run here. Embedded: default the CPU count. SWF and servers:
            default 0, nothing decided or worked here (`pipeflow decider/worker` elsewhere do);
            N >= 1 runs a decider and N worker processes here for the pipelines submitted.
        store: where large values go (`s3://bucket/prefix` or a directory); default
            `PIPEFLOW_STORE`, else ./.pipeflow/payloads when the steps run here, else none. It
            is this client's own: a run's values are read from the store the run names only
            when that lies under it, and the deciders and workers here serve only such runs.
        state_dir: the embedded engine's directory (default ./.pipeflow).
        backend: "embedded" or "swf" (what `Client.swf` gives); by default "swf" with an endpoint_url.
    """

    def __init__(
        self,
        endpoint_url: str | None = None,
        *,
        domain: str | None = None,
        region: str | None = None,
        workers: int | None = None,
        store: str | None = DEFAULT,
        state_dir: str | os.PathLike[str] = ".pipeflow",
        backend: str | None = None,
    ) -> None:
        self.backend = backend or ("swf" if endpoint_url else "embedded")
        if self.backend not in ("embedded", "swf"):
            raise PipelineError(f"backend {backend!r}: give 'embedded' or 'swf'")
        if self.backend == "embedded" and (endpoint_url or region or (domain not in (None, DOMAIN))):
            raise PipelineError("endpoint_url, region and domain go with pf.Client.swf(...) or "
                                "pf.Client(endpoint_url=...); the embedded engine has its own domain")
        if workers is not None and (workers < 0 or (workers == 0 and self.backend == "embedded")):
            raise PipelineError(f"workers={workers}: give at least 1 (0 only with SWF, where workers run elsewhere)")
        self.endpoint_url = endpoint_url
        self.region = region
        self.domain = domain or DOMAIN
        self.workers = workers if workers is not None else (None if self.backend == "embedded" else 0)
        self.state_dir = Path(state_dir).resolve()
        if store is DEFAULT:
            store = os.environ.get("PIPEFLOW_STORE") or None
            if store is None and self.workers != 0:  # the steps run here: a local directory serves them
                store = str(self.state_dir / "payloads")
        self.store = store
        self._holder: Holder | None = None
        self._reader: Any = None  # the inbox of the process holding the embedded state
        self._remote: Any = None  # boto3's SWF client
        self._service: Any = None  # deciders and workers for SWF, when workers >= 1
        self._closed = False

    @classmethod
    def swf(cls, domain: str, region: str | None = None, endpoint_url: str | None = None, *, workers: int = 0,
            store: str | None = DEFAULT) -> Client:
        """A client of Amazon SWF (or of any SWF endpoint) in `domain`, registered if new."""
        return cls(endpoint_url, domain=domain, region=region, workers=workers, store=store, backend="swf")

    # -- connection ------------------------------------------------------------------------------

    def _swf(self, write: bool = False) -> Any:
        """The SWF client: the embedded engine's, the holder's inbox (read-only), or boto3's."""
        if self._closed:
            raise PipelineError("this Client is closed: make a new pf.Client()")
        if self.backend == "swf":
            if self._remote is None:
                from ._aws import swf_client

                self._remote = swf_client(endpoint_url=self.endpoint_url, region=self.region)
            return self._remote
        if self._holder is not None:
            return self._holder.swf
        from ._inspect_cli import _held

        db = self.state_dir / "state.sqlite"
        if self._reader is None or write:  # to write, the state must be held here: free now, perhaps
            self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            holder = hold(db, self.store)
            if holder is not None:
                self._holder, self._reader = holder, None
                atexit.register(self.close)
                return holder.swf
        if self._reader is None:
            from ._control import InboxReader

            self._reader = InboxReader(self.state_dir / "control", held=lambda: _held(db))
        if write:
            raise EngineError(f"the embedded state {self.state_dir} is held by another process (a `pipeflow run` "
                              "or another notebook's Client): runs can be read and canceled from here, not "
                              "started; close that one, or give this Client another state_dir")
        return self._reader

    def _running_here(self) -> Any:
        """The Service deciding and working here (started if needed), or None when the steps run elsewhere."""
        self._swf(write=True)
        if self._holder is not None:
            service = self._holder.service
            service.processes = self.workers
            return service
        if not self.workers:
            return None
        if self._service is None:
            from ._service import Service

            self._service = Service(self._swf(), self.domain, processes=self.workers, store=self.store)
            atexit.register(self.close)
        return self._service

    def _check(self) -> None:
        """Raise the error that stopped a decider or worker of this client, if one did."""
        service = self._holder.service if self._holder is not None else self._service
        if service is not None:
            service.check()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """SWF's and the engine's errors as pipeflow's (EngineError)."""
        from ._control import HolderGone
        from ._run_swf import _service_errors

        try:
            with _service_errors(self.domain):
                yield
        except HolderGone:
            self._reader = None  # the next call opens the state here
            raise EngineError("the process holding the embedded state let it go meanwhile; try again") from None

    def close(self) -> None:
        """Stop this client's deciders and workers and let the embedded state go (also at exit)."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        if self._holder is not None:
            release(self._holder)
            self._holder = None
        if self._service is not None:
            self._service.stop()
            self._service.join_workers()  # the deciders' long polls on the endpoint cannot be woken

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        where = str(self.state_dir) if self.backend == "embedded" else \
            f"domain={self.domain}" + (f" endpoint={self.endpoint_url}" if self.endpoint_url else "")
        return f"<pipeflow.Client {self.backend} {where}{' closed' if self._closed else ''}>"

    # -- runs ----------------------------------------------------------------------------------

    def submit(self, pipeline: Any, input: Any = None, *, store: str | None = DEFAULT) -> Run:
        """Start a run of `pipeline` (a Pipeline, a canvas, a task, or "file.py[:attr]") and return at once."""
        from ._run import register, start
        from ._run_swf import check_registration

        definition = _definition(pipeline)
        store = self.store if store is DEFAULT else store
        with self._errors():
            swf = self._swf(write=True)
            if self._holder is not None:  # on this session's own task lists
                definition = self._session(definition)
            register(swf, self.domain, definition)
            if self.backend == "swf":
                check_registration(swf, self.domain, definition)
            service = self._running_here()
            if service is not None:
                _check_store(service, store)
                service.serve(definition)
            workflow_id, run_id = start(swf, self.domain, definition, input, store=store)
        found = Run(self, workflow_id, run_id)
        found._root = store  # this process chose it: its values are read from it
        return found

    def _session(self, definition: Any) -> Any:
        """The pipeline on the task lists of this process's session of the embedded state."""
        from ._run import own_task_list, session_list

        assert self._holder is not None
        return own_task_list(definition, session_list(definition, self._holder.session))

    def run(self, run: str, pipeline: Any = None) -> Run:
        """The run with this run id (or the latest run of this workflow id), open or closed.

        An open run whose pipeline nothing decides here (after a kernel restart) is picked up
        again when its steps run here and `pipeline` is given (a Pipeline, a canvas, a task, or
        "file.py[:attr]"): the file the run recorded is never loaded on its say-so.
        """
        from ._control import find_any_run

        with self._errors():
            info = find_any_run(self._swf(), self.domain, run)
        found = Run(self, info["execution"]["workflowId"], info["execution"]["runId"])
        if info.get("executionStatus") == "OPEN" and (self._holder is not None or self.workers):
            self._pick_up(found, info["workflowType"], pipeline)
        return found

    def _pick_up(self, run: Run, workflow_type: dict[str, str], pipeline: Any) -> None:
        from ._resume import read_run
        from ._run import register

        with self._errors():
            service = self._running_here()
            task_list = None
            if self.backend == "embedded":  # it is served only on its own task list
                config = self._swf().describe_workflow_execution(domain=self.domain, execution=run.execution)
                task_list = config["executionConfiguration"]["taskList"]["name"]
            if service.serves(workflow_type, task_list):
                return
            if pipeline is None:
                pipeline = service.served(workflow_type)  # this pipeline is served here: its run is taken up
            if pipeline is None:
                source = read_run(self._swf(), self.domain, run.run_id).source
                log.warning("run %s is open, but nothing here runs its steps: pass its pipeline, "
                            "client.run(run, pipeline='path/to/pipeline.py')%s", run.run_id,
                            f" (it was started from {source})" if source else "")
                return
            definition = _definition(pipeline)
            if task_list is not None:  # its own task lists (a run's, or a session's): served here now
                from ._run import own_task_list

                definition = own_task_list(definition, task_list)
            register(self._swf(), self.domain, definition)
            service.serve(definition)

    def runs(self, status: str | None = None, limit: int = 50) -> Any:
        """A DataFrame of the latest runs, newest first; `status`: RUNNING, CLOSED, COMPLETED, FAILED, ..."""
        import pandas as pd

        from ._inspect_cli import Reader, list_runs

        with self._errors():
            rows = list_runs(Reader(self._swf(), self.domain), status, limit)
        columns = ["workflow_id", "run_id", "pipeline", "version", "status", "started", "closed", "duration"]
        frame = pd.DataFrame(rows, columns=columns)
        for column in ("started", "closed"):
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
        return frame

    def resume(self, run: str, from_step: str | None = None, pipeline: Any = None, *,
               allow_changed: bool = False) -> Run:
        """Start a run that resumes `run` (see `pipeflow resume`): its checkpointed steps are not run again.

        `pipeline` (a Pipeline, a canvas, a task, or "file.py[:attr]") runs its steps here; it is
        needed when the steps run here and nothing here serves the run's pipeline yet: the file
        the run recorded is never loaded on its say-so. A file whose content is not the one the
        run was started from is refused unless `allow_changed`.
        """
        from ._resume import check_resumable, definition_for, read_run, resume, run_root
        from ._run import register

        with self._errors():
            swf = self._swf(write=True)
            old = read_run(swf, self.domain, run)
            service = self._running_here()
            store = service.store if service is not None else self.store
            check_resumable(old, run, from_step)  # refusals first: no code is loaded for them
            run_root(old, store, fix="make the Client with the run's store (store=...) to resume it")
            definition = None
            if pipeline is not None or (service is not None and not service.serves(old.workflow_type)):
                definition = definition_for(old, pipeline, run, allow_changed=allow_changed,
                                            hint=f"client.resume({run!r}, pipeline='path/to/pipeline.py')")
            if self._holder is not None:  # on this session's own task lists
                definition = self._session(definition or service.served(old.workflow_type))
            if definition is not None and service is not None:
                register(swf, self.domain, definition)
                service.serve(definition)
            workflow_id, run_id, root = resume(swf, self.domain, run, from_step, definition=definition, old=old,
                                               store=store)
        found = Run(self, workflow_id, run_id)
        found._root = root
        return found

    def _control(self, op: str, run: Run, reason: str | None = None, name: str = "", value: Any = None) -> None:
        """Cancel or signal a run: on the engine or SWF, or through the inbox of the state's holder."""
        import converters

        from . import _control

        with self._errors():
            swf = self._swf()
            if swf is self._reader:
                request: dict[str, Any] = {"op": op, "run": run.run_id}
                if op == "cancel":
                    request["reason"] = reason
                else:
                    request.update(name=name, input=converters.dumps(value, what=f"the value of signal {name!r}"))
                _control.post(self.state_dir / "control", request)
            elif op == "cancel":
                _control.cancel(swf, self.domain, run.execution, reason)
            else:
                _control.signal(swf, self.domain, run.execution, name, value, store=run._store())  # the run's if trusted


def _check_store(service: Any, store: str | None) -> None:
    """Refuse a run whose store the deciders and workers here would refuse (their own is the service's)."""
    import converters

    from . import _wire

    if store is None:
        return
    try:
        _wire.run_store(store, service.store, "client", fix="")
    except converters.StoreError:
        raise PipelineError(
            f"the steps here run with the store {service.store}, not {store}: submit without store=, or give "
            f"the Client store={store!r} (on the embedded engine, the first Client of this process)"
        ) from None


def _definition(pipeline: Any) -> Any:
    """The Pipeline of a Pipeline, canvas or task, or of "file.py[:attr]" loaded now."""
    from ._pipeline import as_pipeline

    if isinstance(pipeline, (str, os.PathLike)):
        from ._loader import load_pipeline

        loaded = load_pipeline(os.fspath(pipeline))
        return as_pipeline(loaded.target, attr=loaded.attr)
    return as_pipeline(pipeline)


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
        return self._info

    @property
    def status(self) -> str:
        """RUNNING, or how it closed: COMPLETED, FAILED, CANCELED, TERMINATED, TIMED_OUT, CONTINUED_AS_NEW."""
        return _status(self._describe())

    @property
    def pipeline(self) -> str:
        """The pipeline's name (its workflow type)."""
        return str(self._describe()["workflowType"]["name"])

    def wait(self, timeout: float | None = None, progress: bool = True) -> Run:
        """Wait for the run to close (a progress bar on stderr or in the notebook); raises TimeoutError."""
        from ._run import wait_closed

        if self._describe().get("executionStatus") == "CLOSED":
            return self
        bar = None
        swf = self.client._swf()
        if progress:
            from ._progress import ProgressLine

            bar = ProgressLine(swf, self.client.domain, self.execution, bar=_bar_class()).start()
        delay = EMBEDDED_DELAY if self.client.backend == "embedded" else SWF_DELAY
        try:
            with self.client._errors():
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

        from . import _wire

        self.wait(progress=False)
        with self.client._errors():
            page = self.client._swf().get_workflow_execution_history(
                domain=self.client.domain, execution=self.execution, reverseOrder=True, maximumPageSize=1)
        event = page["events"][0]
        attrs = event.get("workflowExecutionCompletedEventAttributes")
        store = self._store()
        try:
            if preview is None or attrs is None or attrs.get("result") is None:
                return _wire.decode_close_event(event, run_id=self.run_id, store=store)
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

        from . import _wire

        if self._root is DEFAULT:
            events = self._events[:1]
            if not events:
                with self.client._errors():
                    events = self.client._swf().get_workflow_execution_history(
                        domain=self.client.domain, execution=self.execution, maximumPageSize=1)["events"]
            attrs = events[0].get("workflowExecutionStartedEventAttributes") or {}
            try:
                named = _wire.decode_workflow_input(attrs.get("input"))[1]
            except (ValueError, KeyError, TypeError):  # not started by pipeflow
                named = None
            try:
                self._root = self.client.store if named is None else \
                    _wire.run_store(named, self.client.store, "client")
            except converters.StoreError:  # read through the client's own store: its references are refused
                self._root, self._foreign = self.client.store, _wire._shown(named)
        return self._root  # type: ignore[no-any-return]

    def events(self) -> list[dict[str, Any]]:
        """The run's history events so far (boto3's shape), oldest first; only new ones are read."""
        from ._progress import new_events

        if self._events and self._events[-1]["eventType"] in _CLOSING:
            return self._events
        with self.client._errors():
            after = self._events[-1]["eventId"] if self._events else 0
            self._events.extend(new_events(self.client._swf(), self.client.domain, self.execution, after))
        return self._events

    def tasks(self) -> Any:
        """A DataFrame, one row per task attempt: step, task, attempt, status, times, worker, sizes, error."""
        from ._inspect import tasks_frame

        return tasks_frame(self.events())

    def history(self) -> Any:
        """A DataFrame, one row per history event."""
        from ._inspect import history_frame

        return history_frame(self.events())

    def timeline(self) -> Any:
        """A matplotlib Figure: a Gantt chart of the task attempts, coloured by status."""
        from ._inspect import timeline

        figure = timeline(self.tasks())
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None and getattr(figure.canvas, "manager", None) is not None:
            pyplot.close(figure)  # shown once, as the value: Jupyter's inline backend would show it again
        return figure

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
        from ._progress import StepCounts

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
    from ._wire import is_handback

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
