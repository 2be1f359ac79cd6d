"""Where the console reads runs from: the embedded state of this folder, `pipeflow server` or SWF.

Every read goes through `pipeflow.client`'s Reader, so the embedded state is read the way the
inspection commands read it: opened here when nobody holds it, through the holder's control inbox
while a `pipeflow run` or a notebook holds it. One reader serves the requests one at a time; the
embedded state opened here is let go LINGER seconds after the last request (a page and the
fragments it fetches share one opening), well within the 2 s an opening `pipeflow run` waits for
it, so the console never keeps a run from starting. A closed run never changes again: its
history is kept (a few, least recently used).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from ..client import Reader, iso_utc, open_reader, progress_of, run_store, seconds_between

LINGER = 0.5  # seconds the embedded state stays open here after a request (an opening engine waits 2 s for it)

CACHED_RUNS = 16  # closed runs whose histories stay in memory
LISTED_FOR = 1.0  # seconds the list of runs is reused (a page refreshes every 2 s)
CACHED_PROGRESS = 20_000  # closed runs whose progress stays in memory (two ints each)


@dataclass
class RunRow:
    """One execution as the console lists it."""

    workflow_id: str
    run_id: str
    pipeline: str
    version: str
    status: str
    started: str | None
    closed: str | None
    tags: list[str]
    parent: dict[str, str] | None = None
    cancel_requested: bool = False
    progress: tuple[int, int] | None = None
    progress_pending: bool = False  # a closed run's progress, read by the page's first refresh

    @property
    def open(self) -> bool:
        return self.status == "RUNNING"

    @property
    def duration(self) -> float | None:
        return seconds_between(self.started, self.closed)

    @property
    def execution(self) -> dict[str, str]:
        return {"workflowId": self.workflow_id, "runId": self.run_id}


def row_of(info: dict[str, Any]) -> RunRow:
    execution, wtype = info["execution"], info.get("workflowType") or {}
    status = "RUNNING" if info.get("executionStatus", "OPEN") == "OPEN" else str(info.get("closeStatus", "CLOSED"))
    parent = info.get("parent")
    return RunRow(
        workflow_id=execution["workflowId"], run_id=execution["runId"], pipeline=str(wtype.get("name", "")),
        version=str(wtype.get("version", "")), status=status, started=iso_utc(info.get("startTimestamp")),
        closed=iso_utc(info.get("closeTimestamp")), tags=list(info.get("tagList") or ()),
        parent={"workflow_id": parent["workflowId"], "run_id": parent["runId"]} if parent else None,
        cancel_requested=bool(info.get("cancelRequested")),
    )


@dataclass
class RunData:
    """A run read back: its row and whole history (oldest first)."""

    row: RunRow
    events: list[dict[str, Any]]
    derived: dict[str, Any] = field(default_factory=dict)  # frames and views computed from the events, kept with them


class Source:
    """The backend the console reads and acts on, with the settings `pipeflow ui` was started with."""

    def __init__(self, backend: str = "embedded", domain: str | None = None, endpoint_url: str | None = None,
                 region: str | None = None, store: str | None = None) -> None:
        self.backend = backend
        self.domain = domain
        self.endpoint_url = endpoint_url
        self.region = region
        self.store = store
        self._lock = threading.RLock()  # the embedded state is opened by one request at a time
        self._runs: OrderedDict[str, RunData] = OrderedDict()
        self._progress: dict[str, tuple[int, int] | None] = {}
        self._current: Reader | None = None
        self._opened = ExitStack()
        self._used = 0.0  # when the reader was last used (monotonic)
        self._timer: threading.Timer | None = None
        self._listed: tuple[float, list[RunRow]] = (0.0, [])

    @contextmanager
    def reader(self) -> Iterator[Reader]:
        """The reader, one request at a time; kept open across requests (the embedded state: LINGER seconds)."""
        with self._lock:
            if self._current is None:
                self._current = self._opened.enter_context(
                    open_reader(self.backend, self.domain, self.endpoint_url, self.region))
            try:
                yield self._current
            finally:
                self._used = time.monotonic()
                if self.backend != "swf" and self._timer is None:
                    self._timer = threading.Timer(LINGER, self._linger)
                    self._timer.daemon = True
                    self._timer.start()

    def _linger(self) -> None:
        with self._lock:
            self._timer = None
            idle = time.monotonic() - self._used
            if idle < LINGER:  # used since: look again when it has been idle long enough
                self._timer = threading.Timer(LINGER - idle, self._linger)
                self._timer.daemon = True
                self._timer.start()
                return
            self.let_go()

    def let_go(self) -> None:
        """Close the reader (the embedded state opened here is free for another process at once)."""
        with self._lock:
            self._current = None
            opened, self._opened = self._opened, ExitStack()
            opened.close()

    def warm(self, app: Any) -> None:
        """Import and compile now what the first requests would (pandas, the engine, the templates)."""
        from .._errors import PipeflowError
        from ._steps import attempts_of

        attempts_of([])  # pandas and the frames
        for name in app.jinja_env.list_templates():
            app.jinja_env.get_template(name)
        try:
            with self.reader() as reader:  # the engine's modules and SWF's model; nothing read is kept
                reader.call("list_open_workflow_executions", startTimeFilter={"oldestDate": 0}, maximumPageSize=1)
        except PipeflowError:
            pass  # no state yet, or held and slow to answer: the pages say so
        finally:
            self.let_go()

    def runs(self) -> list[RunRow]:
        """Every top-level run, newest first (stages and shards are their parents' steps); LISTED_FOR seconds old at most."""
        when, rows = self._listed
        if time.monotonic() - when < LISTED_FOR:
            return [replace(row) for row in rows]
        with self.reader() as reader:
            infos = [info for closed in (False, True) for info in reader.executions(closed) if "parent" not in info]
        rows = [row_of(info) for info in infos]
        rows.sort(key=lambda row: row.started or "", reverse=True)
        self._listed = (time.monotonic(), rows)
        return [replace(row) for row in rows]

    def add_progress(self, rows: list[RunRow], *, closed: bool = True) -> bool:
        """Fill each row's progress (done, total) from its history: the last progress marker, the steps closed.

        A closed run's progress is read once and kept. `closed=False` leaves those not read yet
        for later (the page's first refresh, which comes at once, reads them): a page is served
        without waiting on the histories of the runs it lists, however long they are, and its
        styles and script load while nothing else runs. True when some were left.
        """
        left = False
        with self.reader() as reader:
            for row in rows:
                if not row.open and row.run_id in self._progress:
                    row.progress = self._progress[row.run_id]
                elif row.open or closed:
                    row.progress = progress_of(reader.events(row.execution))
                    if not row.open and len(self._progress) < CACHED_PROGRESS:
                        self._progress[row.run_id] = row.progress
                else:
                    row.progress_pending = left = True
        return left

    def run(self, run: str, workflow_id: str | None = None) -> RunData:
        """A run by its ids (both: one describe call), or by a run id or workflow id alone (a search)."""
        cached = self._runs.get(run)
        if cached is not None and (workflow_id is None or cached.row.workflow_id == workflow_id):
            self._runs.move_to_end(run)
            return cached
        with self.reader() as reader:
            if workflow_id:
                described = reader.call("describe_workflow_execution",
                                        execution={"workflowId": workflow_id, "runId": run})
                info = {**described["executionInfo"]}
            else:
                info = reader.find(run)
            row = row_of(info)
            data = RunData(row, reader.events(row.execution))
        if not row.open:
            self._runs[row.run_id] = data
            while len(self._runs) > CACHED_RUNS:
                self._runs.popitem(last=False)
        return data

    def open_counts(self, row: RunRow) -> dict[str, int]:
        with self.reader() as reader:
            counts = reader.call("describe_workflow_execution", execution=row.execution).get("openCounts") or {}
        return {str(k): int(v) for k, v in counts.items()}

    def store_of(self, events: list[dict[str, Any]]) -> str | None:
        """The run's store when it lies under this console's own (`--store`, PIPEFLOW_STORE, ./.pipeflow/payloads)."""
        return run_store(events, self.store, "pipeflow ui", fix="start `pipeflow ui --store {store}`")

    def act(self, op: str, row: RunRow, **options: Any) -> None:
        """Cancel or signal a run as `pipeflow cancel` / `pipeflow signal` do."""
        from ..running import command

        with self._lock:
            command(op, row.run_id, backend=self.backend, domain=self.domain, endpoint_url=self.endpoint_url,
                    region=self.region, **options)
        self._runs.pop(row.run_id, None)
        self._listed = (0.0, [])
