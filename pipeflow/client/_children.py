"""A run's child executions (stages, shards) read back, their attempts joined into the run's tasks table.

The parent's history holds one row per attempt of a stage or a shard (`kind` "stage" / "shard",
with `child_workflow_id` and `child_run_id`); the attempts inside are in the child execution's
own history, read through the same SWF client (GetWorkflowExecutionHistory on the child's
execution, on the embedded engine and on SWF alike), and so on down: stages within stages,
shards of shards, stages in the items of a sharded map.

A child's steps keep the paths the decider gives them, which are paths in the whole canvas:
the stage at `2` runs its inner step at `2.0` (a chain inside it: `2.0.0`, `2.0.1`), a shard of
the map at `3` runs items `3.map.<n>` with `n` counted over the whole map. So a child's rows
need no prefix to say where they are; `parent` (the child workflow id whose history holds the
row) and `depth` (0 for the run's own attempts, 1 inside its stages, ...) place them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .._errors import EngineError

if TYPE_CHECKING:
    import pandas as pd

    from ._client import Client

MAX_DEPTH = 32  # child executions within child executions read at most (a canvas is never this deep)

EventsOf = Callable[[dict[str, str]], Sequence[dict[str, Any]]]  # an execution's whole history, oldest first


def history_reader(client: Client) -> EventsOf:
    """Reads an execution's history through a Client's SWF client, SWF's errors as EngineError."""

    def events_of(execution: dict[str, str]) -> Sequence[dict[str, Any]]:
        from ..running import new_events

        with client._errors():
            return new_events(client._swf(), client.domain, execution, 0)

    return events_of


def expand_tasks(tasks: pd.DataFrame, events_of: EventsOf) -> pd.DataFrame:
    """A tasks frame with, after each attempt of a stage or shard, the attempts its child execution ran.

    Recursively, down to MAX_DEPTH. `parent` is the child workflow id whose history holds the row
    (None for the run's own), `depth` how many child executions down it is. A child not started
    yet, or whose history the engine no longer has, keeps its one row. `attrs["end"]` is the
    run's. Children are read one after the other: one history read per stage or shard attempt.
    """
    end = tasks.attrs.get("end")
    frame = _expand(tasks, events_of, 0, None, set())
    frame.attrs["end"] = end
    return frame


def _expand(frame: pd.DataFrame, events_of: EventsOf, depth: int, parent: str | None,
            seen: set[str]) -> pd.DataFrame:
    import pandas as pd

    from ._tasks import tasks_frame

    frame = frame.copy()
    frame["parent"] = pd.Series([parent] * len(frame), index=frame.index, dtype=object)
    frame["depth"] = pd.Series([depth] * len(frame), index=frame.index, dtype="int64")
    if depth >= MAX_DEPTH or len(frame) == 0:
        return frame
    pieces: list[pd.DataFrame] = []
    last = 0
    rows = zip(frame["kind"].tolist(), frame["child_workflow_id"].tolist(), frame["child_run_id"].tolist())
    for i, (kind, workflow_id, run_id) in enumerate(rows):
        if kind == "task" or not isinstance(workflow_id, str) or not isinstance(run_id, str) or run_id in seen:
            continue
        seen.add(run_id)  # a history naming a child twice (or itself) is read once
        try:
            events = events_of({"workflowId": workflow_id, "runId": run_id})
        except EngineError as exc:
            if exc.code != "UnknownResourceFault":
                raise
            continue  # past the domain's retention: the stage's own row says what it did
        inner = tasks_frame(events)
        if len(inner) == 0:
            continue
        pieces.append(frame.iloc[last:i + 1])
        pieces.append(_expand(inner, events_of, depth + 1, workflow_id, seen))
        last = i + 1
    if not pieces:
        return frame
    pieces.append(frame.iloc[last:])
    return pd.concat([p for p in pieces if len(p)], ignore_index=True)


def retries(tasks: pd.DataFrame) -> tuple[int, int]:
    """`(retries of the rows drawn at depth 0, retries inside child executions)`: attempts past the first."""
    retried = tasks["attempt"] > 1
    if "depth" not in tasks:
        return int(retried.sum()), 0
    inner = tasks["depth"] > 0
    return int((retried & ~inner).sum()), int((retried & inner).sum())
