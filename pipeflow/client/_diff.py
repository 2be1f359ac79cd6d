"""Two runs compared step by step: `Run.diff` and `pipeflow diff`.

Steps are matched by canvas path, which does not depend on timing (`2`, `1.0.1` inside a
stage, `3.map.17`), stages expanded as `pipeflow tasks --expand` shows them. Each side's step
is its last attempt (inside the last attempt of a retried stage); inputs and results are
compared by checksum (`_stats.checksum`: the value, not where it was stored).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

DIFF_COLUMNS = ["step", "task", "change", "status_a", "status_b", "attempts_a", "attempts_b", "duration_a",
                "duration_b", "duration_change", "input", "result"]
# A step's duration "changed" when it moved by more than this share of run A's, and by more than DURATION_FLOOR
DURATION_SHARE = 0.5
DURATION_FLOOR = 1.0  # seconds


def _steps(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per step path: its last attempt, with `attempts` counted in the execution that ran it last."""
    counted = frame.assign(place=frame["parent"].fillna(""))
    counted["attempts"] = counted.groupby(["step", "place"])["attempt"].transform("size")
    return counted.groupby("step", sort=False).tail(1).set_index("step")


def _path_key(step: str) -> tuple[tuple[int, Any], ...]:
    """Canvas order: `2.map.10` after `2.map.9`."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in step.split("."))


def _same(a: Any, b: Any) -> str | None:
    if not isinstance(a, str) or not isinstance(b, str):
        return None
    return "same" if a == b else "differs"


def diff_frame(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """The steps of two runs' `attempts_frame`s side by side, in canvas order (DIFF_COLUMNS).

    `change` is "added" (only in B), "missing" (only in A), else what differs, comma-separated,
    among task, status, retries, input, result and duration ("" when nothing does).
    """
    import pandas as pd

    columns = ["task", "status", "attempts", "duration", "input_sum", "result_sum"]
    left, right = (_steps(f)[columns].to_dict("index") for f in (a, b))  # plain dicts: a row each, read fast
    rows = [_row(step, left.get(step), right.get(step)) for step in sorted(left.keys() | right.keys(), key=_path_key)]
    frame = pd.DataFrame(rows, columns=DIFF_COLUMNS)
    for column in ("status_a", "status_b", "input", "result"):  # None, not NaN, where a side has none
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


def _row(step: str, x: Any, y: Any) -> dict[str, Any]:
    nan = float("nan")
    row = {"step": step, "task": (y if y is not None else x)["task"],
           "status_a": None if x is None else x["status"], "status_b": None if y is None else y["status"],
           "attempts_a": 0 if x is None else int(x["attempts"]), "attempts_b": 0 if y is None else int(y["attempts"]),
           "duration_a": nan if x is None else float(x["duration"]),
           "duration_b": nan if y is None else float(y["duration"]),
           "input": None, "result": None}
    row["duration_change"] = row["duration_b"] - row["duration_a"]
    if x is None or y is None:
        row["change"] = "added" if x is None else "missing"
        return row
    row["input"] = _same(x["input_sum"], y["input_sum"])
    row["result"] = _same(x["result_sum"], y["result_sum"])
    changes = [name for name, changed in (
        ("task", x["task"] != y["task"]), ("status", x["status"] != y["status"]),
        ("retries", row["attempts_a"] != row["attempts_b"]), ("input", row["input"] == "differs"),
        ("result", row["result"] == "differs"),  # one without a result: its status says why
        ("duration", _moved(row["duration_a"], row["duration_b"])),
    ) if changed]
    row["change"] = ", ".join(changes)
    return row


def _moved(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):  # one never ran to the end: its status says so
        return False
    return abs(b - a) > max(DURATION_FLOOR, DURATION_SHARE * a)


def diff_doc(reader: Any, run_a: str, run_b: str) -> dict[str, Any]:
    """`pipeflow diff --json`: `{"a": run row, "b": run row, "steps": [every step's row]}`."""
    from ._reader import _history_events, _records, _run_row
    from ._stats import attempts_frame

    frames, runs = [], []
    for run in (run_a, run_b):
        info = reader.find(run)
        runs.append(_run_row(info))
        frames.append(attempts_frame(_history_events(reader, info), reader.events))
    return {"a": runs[0], "b": runs[1], "steps": _records(diff_frame(*frames))}


def render_diff(doc: dict[str, Any], every: bool = False) -> str:
    """`pipeflow diff` for a terminal: the two runs, then the steps that changed (all with `every`)."""
    from ._tables import format_duration, table

    lines = [f"{side.upper()}  {r['workflow_id']}  {r['status']}  {format_duration(r['duration'])}  "
             f"{r['pipeline']} v{r['version']}  run {r['run_id']}" for side, r in (("a", doc["a"]), ("b", doc["b"]))]
    shown = [s for s in doc["steps"] if every or s["change"]]
    counts = {kind: sum(1 for s in doc["steps"] if s["change"] == kind) for kind in ("added", "missing")}
    changed = sum(1 for s in doc["steps"] if s["change"] and s["change"] not in counts)
    if shown:
        lines.append("")
        lines.append(table(
            [[s["step"], str(s["task"]), s["change"] or "-", s["status_a"] or "-", s["status_b"] or "-",
              f"{s['attempts_a']}/{s['attempts_b']}", format_duration(s["duration_a"]),
              format_duration(s["duration_b"]), s["input"] or "-", s["result"] or "-"] for s in shown],
            ["STEP", "TASK", "CHANGE", "STATUS A", "STATUS B", "ATTEMPTS", "TIME A", "TIME B", "INPUT", "RESULT"],
            right=frozenset({6, 7})))
    lines.append("")
    lines.append(f"{len(doc['steps'])} steps: {counts['added']} added, {counts['missing']} missing, "
                 f"{changed} changed")
    return "\n".join(lines)
