"""Closed runs kept in the database, not in memory: listed from their rows' heads, loaded when asked for.

A snapshot moves the runs closed since the last one out of memory into rows of their own (a head
for listing: ids, type, times, status, tags, parent; the record with the history), so opening
the state reads only what is still open: closed runs of earlier days cost nothing until a call
names them (GetWorkflowExecutionHistory, DescribeWorkflowExecution, the closed lists and counts).
A closed run never changes again, so what was read is kept: the heads until the next snapshot
writes rows, a few whole runs (least recently used). Every row is checked against its checksum
when read; the snapshot records how many rows there are, checked at open.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._chain import StoreDamaged, snapshot_sum
from ._execution import ClosedRef, Execution, info_of
from ._records import decode_record, execution_of

if TYPE_CHECKING:
    from ._store import Store

__all__ = ["Closed", "StoredClosed", "Summary"]

KEPT_RUNS = 8  # whole closed runs kept after a call read them (a history is read page by page)


class Summary:
    """A closed run as the lists see it (its row's head): no history."""

    __slots__ = ("cancel_requested", "close_status", "close_ts", "domain", "parent", "run_id", "start_ts",
                 "tags", "workflow_id", "workflow_type")
    open = False

    def __init__(self, head: dict[str, Any]) -> None:
        self.domain: str = head["domain"]
        self.workflow_id: str = head["workflow_id"]
        self.run_id: str = head["run_id"]
        self.workflow_type: dict[str, str] = head["workflow_type"]
        self.start_ts: float = head["start_ts"]
        self.close_ts: float | None = head["close_ts"]
        self.close_status: str | None = head["close_status"]
        self.cancel_requested: bool = head["cancel_requested"]
        self.tags: list[str] = head["tags"]
        parent = head["parent"]
        self.parent = {"workflowId": parent[0], "runId": parent[1]} if parent else None

    def info(self) -> dict[str, Any]:
        """The WorkflowExecutionInfo shape."""
        return info_of({"workflowId": self.workflow_id, "runId": self.run_id}, self.workflow_type, self.start_ts,
                       False, self.cancel_requested, self.close_ts, self.close_status, self.parent, self.tags)


class Closed:
    """No closed run outside memory: a state without a database keeps them all in ``State.runs``."""

    loads = 0  # whole runs read from the database (for tests: opening reads none)

    def get(self, run_id: str) -> Execution | None:
        """The closed run ``run_id`` read back whole, or None."""
        return None

    def summaries(self, domain: str) -> list[Summary]:
        """Every closed run of ``domain`` kept outside memory, in the order they were stored."""
        return []


class StoredClosed(Closed):
    """The closed runs in a Store's rows; `before_read` is called (under the engine's lock) before each read."""

    def __init__(self, store: Store, before_read: Callable[[], None]) -> None:
        self._store = store
        self._before_read = before_read
        self._runs: OrderedDict[str, Execution] = OrderedDict()
        self._heads: dict[str, list[Summary]] = {}
        self.loads = 0

    def get(self, run_id: str) -> Execution | None:
        ex = self._runs.get(run_id)
        if ex is not None:
            self._runs.move_to_end(run_id)
            return ex
        self._before_read()
        row = self._store.closed_record(run_id)
        if row is None:
            return None
        data, total = row
        if snapshot_sum(data) != total:
            raise StoreDamaged(self._store.path, f"the row of closed run {run_id} does not match its checksum")
        try:
            record = decode_record(data)
            if not isinstance(record, dict) or record.get("run_id") != run_id:
                raise StoreDamaged(self._store.path, f"the row of closed run {run_id} holds another run")
            ex = execution_of(record)
            if record["parent"]:
                ex.parent = ClosedRef(ex.domain, record["parent_wf"], record["parent"])
        except StoreDamaged:
            raise
        except Exception as exc:  # its checksum matches, yet it is no record this engine wrote
            raise StoreDamaged(self._store.path, f"the row of closed run {run_id} cannot be read as a run "
                                                 f"({type(exc).__name__}: {str(exc)[:200]})") from exc
        self.loads += 1
        self._runs[run_id] = ex
        while len(self._runs) > KEPT_RUNS:
            self._runs.popitem(last=False)
        return ex

    def summaries(self, domain: str) -> list[Summary]:
        found = self._heads.get(domain)
        if found is None:
            self._before_read()
            found = []
            for run_id, head, total in self._store.closed_heads(domain):
                if snapshot_sum(head) != total:
                    raise StoreDamaged(self._store.path, f"the head of closed run {run_id} does not match its checksum")
                summary = Summary(json.loads(head))
                if summary.run_id != run_id or summary.domain != domain:
                    raise StoreDamaged(self._store.path, f"the head of closed run {run_id} names another run")
                found.append(summary)
            self._heads[domain] = found
        return found

    def forget(self, run_ids: set[str] | None = None) -> None:
        """Drop what was read: all of it (the rows changed), or the runs ``run_ids`` (purged)."""
        if run_ids is None:
            self._heads.clear()
            self._runs.clear()
            return
        for run_id in run_ids:
            self._runs.pop(run_id, None)
