"""The runs of a repeating pipeline (`pf.repeat`) as a chain: each run's iterations and the run it continued as.

A repeat's runs share a workflow id; each but the last closed CONTINUED_AS_NEW, its closing event
naming the next run and carrying its input document, whose `"repeat": {"iteration": n}` is the
last iteration the run completed. Only rows of a workflow id with a continued run are read (one
or two history pages of one event each), so listing other runs costs nothing more.
"""

from __future__ import annotations

from typing import Any

from .. import wire

__all__ = ["carried", "link_chains"]


def carried(text: Any) -> int | None:
    """The iteration a run's input document says the runs before it completed (None: not a repeat's)."""
    if not isinstance(text, str):
        return None
    try:
        doc = wire.load_json(text, "the workflow input")
    except ValueError:
        return None
    member = doc.get("repeat") if isinstance(doc, dict) else None
    n = member.get("iteration") if isinstance(member, dict) else None
    return n if isinstance(n, int) and not isinstance(n, bool) else None


def _event(reader: Any, row: dict[str, Any], newest: bool) -> dict[str, Any]:
    page = reader.call("get_workflow_execution_history", maximumPageSize=1, reverseOrder=newest,
                       execution={"workflowId": row["workflow_id"], "runId": row["run_id"]})
    events = page.get("events") or [{}]
    return dict(events[0])


def link_chains(reader: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`rows` (of `list_runs`) with `iterations` ("4-6", "7-" while open) and, for a continued run, `next_run_id`."""
    chains = {row["workflow_id"] for row in rows if row.get("status") == "CONTINUED_AS_NEW"}
    for row in rows:
        if row["workflow_id"] not in chains:
            continue
        started = _event(reader, row, newest=False).get("workflowExecutionStartedEventAttributes") or {}
        first = (carried(started.get("input")) or 0) + 1
        last = ""
        if row.get("status") == "CONTINUED_AS_NEW":
            closing = _event(reader, row, newest=True).get("workflowExecutionContinuedAsNewEventAttributes") or {}
            row["next_run_id"] = closing.get("newExecutionRunId")
            done = carried(closing.get("input"))
            last = str(done) if done is not None else ""
        row["iterations"] = f"{first}-{last}"
    return rows
