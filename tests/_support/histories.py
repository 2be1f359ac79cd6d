"""Every execution of a domain and the size of its history, read through the SWF API."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)


def closed_executions(swf: Any, domain: str) -> list[dict[str, str]]:
    """`{workflowId, runId}` of every closed execution of the domain (ListClosedWorkflowExecutions, paged)."""
    found: list[dict[str, str]] = []
    token: str | None = None
    while True:
        page = swf.list_closed_workflow_executions(
            domain=domain, startTimeFilter={"oldestDate": EPOCH}, maximumPageSize=1000,
            **({"nextPageToken": token} if token else {}),
        )
        found += [info["execution"] for info in page["executionInfos"]]
        token = page.get("nextPageToken")
        if not token:
            return found


def history(swf: Any, domain: str, execution: dict[str, str]) -> list[dict[str, Any]]:
    """An execution's whole history (GetWorkflowExecutionHistory, paged)."""
    events: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = swf.get_workflow_execution_history(
            domain=domain, execution=execution, maximumPageSize=1000, **({"nextPageToken": token} if token else {})
        )
        events += page["events"]
        token = page.get("nextPageToken")
        if not token:
            return events


def history_sizes(swf: Any, domain: str) -> dict[str, int]:
    """workflowId -> events in its history, for every closed execution of the domain."""
    return {e["workflowId"]: len(history(swf, domain, e)) for e in closed_executions(swf, domain)}
