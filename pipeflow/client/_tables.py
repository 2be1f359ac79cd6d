"""`pipeflow runs/status/tasks/history/result` as text: aligned tables for a terminal, and the command itself."""

from __future__ import annotations

import shutil
import sys
from typing import Any

from ._reader import (
    TEXT_LIMIT,
    history_doc,
    list_runs,
    open_reader,
    result_of,
    status_doc,
    tasks_doc,
)
from ._repeats import link_chains


def _when(iso: str | None, digits: int = 0) -> str:
    """`2026-11-29 05:19:41Z` (with `digits` decimals of the second)."""
    if iso is None:
        return "-"
    return iso[: 19 + (digits + 1 if digits and iso[19:20] == "." else 0)].replace("T", " ") + "Z"


def format_duration(seconds: float | None, unit_sep: str = "") -> str:
    """`850ms`, `2.5s`, `3m07s`, `1h02m`; `-` for none (or NaN). `unit_sep` goes before ms and s."""
    if seconds is None or seconds != seconds:
        return "-"
    seconds = float(seconds)
    if seconds < 1:
        return f"{seconds * 1000:.0f}{unit_sep}ms"
    if seconds < 60:
        return f"{seconds:.1f}{unit_sep}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _size(chars: Any) -> str:
    if chars is None:
        return "-"
    n = float(chars)
    for unit in ("", "k", "M", "G"):
        if n < 1000 or unit == "G":
            return f"{n:.0f}{unit}" if unit == "" or n >= 10 else f"{n:.1f}{unit}"
        n /= 1000
    return str(chars)  # pragma: no cover - the loop returns


def _one_line(text: Any) -> str:
    return "-" if text is None or text == "" else " ".join(str(text).split())


def table(rows: list[list[str]], headers: list[str], right: frozenset[int] = frozenset()) -> str:
    """An aligned text table; the last column is cut to the terminal's width (on a terminal)."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths[i], len(cell))
    used = sum(widths[:-1]) + 2 * (len(headers) - 1)
    room = TEXT_LIMIT
    if sys.stdout.isatty():
        room = max(20, shutil.get_terminal_size((120, 24)).columns - used)

    def line(cells: list[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            if i == len(cells) - 1:
                out.append(cell if len(cell) <= room else cell[: room - 1] + "…")
            else:
                out.append(cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def render_runs(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no runs"
    table_rows = [[r["workflow_id"], r["status"], _when(r["started"]), format_duration(r["duration"]),
                   f"{r['pipeline']} v{r['version']}", r["run_id"]] for r in rows]
    headers = ["WORKFLOW ID", "STATUS", "STARTED", "DURATION", "PIPELINE", "RUN ID"]
    if any("iterations" in r for r in rows):  # the runs of a repeat (pf.repeat): their iterations, the next run
        headers.insert(2, "ITERATIONS")
        for cells, r in zip(table_rows, rows):
            cells.insert(2, r.get("iterations", ""))
            if r.get("next_run_id"):
                cells[1] = f"CONTINUED -> {r['next_run_id'][:12]}..."  # the start of the next run's RUN ID
    return table(table_rows, headers, right=frozenset({headers.index("DURATION")}))


def render_status(doc: dict[str, Any]) -> str:
    lines = [
        ("workflow id", doc["workflow_id"]), ("run id", doc["run_id"]),
        ("pipeline", f"{doc['pipeline']} v{doc['version']}"), ("status", doc["status"]),
        ("started", _when(doc["started"])), ("closed", _when(doc["closed"])), ("duration", format_duration(doc["duration"])),
    ]
    if doc.get("tags"):
        lines.append(("tags", ", ".join(f"{k}={v}" for k, v in doc["tags"].items())))
    if doc.get("parent"):
        lines.append(("parent", f"{doc['parent']['workflow_id']} (run {doc['parent']['run_id']})"))
    if doc.get("progress"):
        done, total = doc["progress"]["done"], doc["progress"]["total"]
        if doc["progress"].get("exact", True):
            lines.append(("progress", f"{done}/{total} steps" + (f" ({100 * done // total}%)" if total else "")))
        else:  # a map's size is not known yet
            lines.append(("progress", f"{done} of at least {total} steps"))
    if doc.get("open"):
        o = doc["open"]
        lines.append(("open", f"{o['tasks']} tasks, {o['timers']} timers, {o['child_runs']} child runs"
                      + (" (cancel requested)" if doc.get("cancel_requested") else "")))
    lines.append(("events", str(doc.get("events", "-"))))
    if doc.get("error"):
        lines.append(("error", _one_line(doc["error"])))
    width = max(len(k) for k, _ in lines)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in lines)


def render_tasks(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no tasks yet"
    return table(
        [["  " * int(r.get("depth") or 0) + str(r.get("step")),  # a step inside a stage: under the stage's row
          str(r.get("task")), str(r.get("attempt")), str(r.get("status")),
          _when(r.get("started")), format_duration(r.get("duration")), _one_line(r.get("worker")),
          _size(r.get("input_size")), _size(r.get("result_size")), _one_line(r.get("error"))] for r in rows],
        ["STEP", "TASK", "ATTEMPT", "STATUS", "STARTED", "DURATION", "WORKER", "IN", "OUT", "ERROR"],
        right=frozenset({2, 5, 7, 8}),
    )


def render_history(rows: list[dict[str, Any]]) -> str:
    return table(
        [[str(r.get("event_id")), _when(r.get("timestamp"), 3), str(r.get("type")), _one_line(r.get("details"))]
         for r in rows],
        ["ID", "TIME", "TYPE", "DETAILS"], right=frozenset({0}),
    )


def show(command: str, run: str | None, *, backend: str, domain: str | None, endpoint_url: str | None,
         region: str | None, as_json: bool, status: str | None = None, limit: int = 50,
         expand: bool = False, tag: str | None = None) -> str:
    """What `pipeflow <command>` prints on stdout: a table, or JSON with `as_json`."""
    from ..running import result_json

    with open_reader(backend, domain, endpoint_url, region) as reader:
        if command == "runs":
            rows = link_chains(reader, list_runs(reader, status, limit, tag=tag))  # a repeat's runs: iterations, next
            return result_json(rows) if as_json else render_runs(rows)
        assert run is not None
        if command == "status":
            doc = status_doc(reader, run)
            return result_json(doc) if as_json else render_status(doc)
        if command == "result":
            row, value = result_of(reader, run)
            if as_json:
                return result_json({"run_id": row["run_id"], "workflow_id": row["workflow_id"],
                                    "status": row["status"], "result": value})
            return result_json(value)
        if command == "tasks":
            row, tasks = tasks_doc(reader, run, expand)
            return result_json(tasks) if as_json else render_tasks(tasks)
        row, events = history_doc(reader, run)
        return result_json(events) if as_json else render_history(events)
