"""Assertions on a run's steps, with messages that show what the run did."""

from __future__ import annotations

from typing import Any

_UNSET: Any = object()


def step_rows(run: Any, step: str) -> Any:
    """The attempts of one step of `run` (a DataFrame of `run.tasks(expand=True)`'s rows), in order."""
    tasks = run.tasks(expand=True)
    return tasks[tasks["step"] == step].sort_values("attempt")


def assert_step(
    run: Any,
    step: str,
    *,
    status: str | None = "COMPLETED",
    attempts: int | None = None,
    task: str | None = None,
    error: str | None = None,
) -> None:
    """Assert that step `step` (its path: `0`, `2.1`, `3.map.17`) of `run` ended as said.

    `status`: of its last attempt (None: any); `attempts`: how many attempts it had; `task`: the
    task's name; `error`: text its last attempt's error contains. The message of a failed check
    lists the run's steps.
    """
    rows = step_rows(run, step)
    if rows.empty:
        known = sorted(set(run.tasks(expand=True)["step"]), key=_path_key)
        raise AssertionError(f"run {run.run_id} has no step {step!r}; its steps: {', '.join(known) or 'none'}")
    last = rows.iloc[-1]
    problems = []
    if status is not None and last["status"] != status:
        problems.append(f"status {last['status']} (expected {status})")
    if attempts is not None and len(rows) != attempts:
        problems.append(f"{len(rows)} attempt(s) (expected {attempts})")
    if task is not None and last["task"] != task:
        problems.append(f"task {last['task']} (expected {task})")
    if error is not None and error not in str(last["error"] or ""):
        problems.append(f"error {last['error']!r} (expected it to contain {error!r})")
    if problems:
        history = "; ".join(f"attempt {int(r['attempt'])}: {r['status']}" + (f" ({r['error']})" if r["error"] else "")
                            for _, r in rows.iterrows())
        raise AssertionError(f"step {step} of run {run.run_id}: {', '.join(problems)}; {history}")


def _path_key(path: str) -> list[tuple[int, Any]]:
    """Sort step paths as numbers where they are numbers: 2 before 10."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in path.split(".")]
