"""Snapshots: the State as JSON, so a restart loads it instead of replaying the full log.

The engine's snapshots leave closed runs out: they go to rows of their own (``closed_rows``,
read back by ``_closed``), so a snapshot, and opening the state, costs what is open, not what ran.
"""

from __future__ import annotations

import json
from typing import Any

from ._chain import snapshot_sum
from ._execution import Activity, ClosedRef, Execution, attr_key
from ._model import Limits
from ._records import encode_record, execution_of, head_of, record_of
from ._state import State
from ._tasklist import TaskQueue

__all__ = ["closed_rows", "dump", "evict", "load"]


def _ref(target: Any) -> list[str]:
    if isinstance(target, Activity):
        return ["act", target.ex.run_id, target.activity_id]
    if isinstance(target, str):  # a purge: the run's id
        return ["run", target]
    return ["run", target.run_id]


def _live(state: State, kind: str, target: Any) -> bool:
    if isinstance(target, Activity):
        return not target.closed
    if kind == "purge":
        return target not in state.purged
    return bool(target.open)


def _parent(state: State, ex: Execution) -> Execution | ClosedRef | None:
    """The parent link worth keeping: none once the parent was forgotten (its retention ended)."""
    parent = ex.parent
    if parent is None or parent.run_id in state.purged:
        return None
    if isinstance(parent, Execution) and parent.run_id not in state.runs:
        return None  # purged while in memory
    return parent


def dump(state: State, *, stored: bool = False) -> dict[str, Any]:
    """A JSON-able image of ``state`` (stale timeouts and queue entries dropped).

    `stored`: without the closed runs, which go to rows of their own (``closed_rows``).
    """
    runs = [record_of(ex, _parent(state, ex)) for ex in state.runs.values() if ex.open or not stored]
    return {
        "salt": state.salt, "counter": state.counter, "heap_seq": state.heap_seq,
        "domains": state.registry.domains,
        "types": [[list(key), rec] for key, rec in state.registry.types.items()],
        "runs": runs,
        "heap": [[at, seq, kind, _ref(target), key] for at, seq, kind, target, key in state.heap
                 if _live(state, kind, target)],
        "activity_queues": [[list(k), [[a.ex.run_id, a.activity_id] for a in q if not a.closed and not a.started_id]]
                            for k, q in state.activity_queues.items()],
        "decision_queues": [[list(k), [e.run_id for e in q if e.open and e.decision == "scheduled"]]
                            for k, q in state.decision_queues.items()],
    }


def closed_rows(state: State) -> list[tuple[str, str, str, str, bytes | str, str]]:
    """The rows of the runs closed in memory: (run id, domain, head, its checksum, record, its checksum)."""
    rows = []
    for ex in state.runs.values():
        if ex.open:
            continue
        parent = _parent(state, ex)
        head = json.dumps(head_of(ex, parent), separators=(",", ":"))
        data = encode_record(record_of(ex, parent))
        rows.append((ex.run_id, ex.domain, head, snapshot_sum(head), data, snapshot_sum(data)))
    return rows


def evict(state: State) -> None:
    """Forget the closed runs held in memory and the purged ones: a snapshot just wrote their rows.

    An open run whose parent was one of them keeps a ClosedRef to it (no link once it was purged).
    """
    gone = {run_id for run_id, ex in state.runs.items() if not ex.open}
    for run_id in gone:
        del state.runs[run_id]
    for ex in state.runs.values():
        parent = ex.parent
        if parent is not None and parent.run_id in state.purged:
            ex.parent = None
        elif isinstance(parent, Execution) and parent.run_id in gone:
            ex.parent = ClosedRef(parent.domain, parent.workflow_id, parent.run_id)
    state.purged.clear()


def load(data: dict[str, Any], limits: Limits) -> State:
    """The State a dump() was taken from (with ``stored``: its closed runs left in their rows)."""
    state = State(data["salt"], limits)
    state.counter, state.heap_seq = data["counter"], data["heap_seq"]
    state.registry.domains = data["domains"]
    state.registry.types = {(k[0], k[1], k[2], k[3]): rec for k, rec in data["types"]}
    parents: list[tuple[Execution, str, str | None]] = []
    for r in data["runs"]:
        ex = execution_of(r)
        for act in ex.activities.values():
            if act.token is not None:
                state.tokens[act.token] = act
        if r["parent"]:
            parents.append((ex, r["parent"], r.get("parent_wf")))
        if ex.d_token is not None:
            state.tokens[ex.d_token] = ex
        state.runs[ex.run_id] = ex
        if ex.open:
            state.open_runs[(ex.domain, ex.workflow_id)] = ex
    for ex, parent_id, parent_wf in parents:
        found = state.runs.get(parent_id)
        ex.parent = found if found is not None or parent_wf is None else ClosedRef(ex.domain, parent_wf, parent_id)
    for at, seq, kind, ref, key in data["heap"]:
        target: Any
        if kind == "purge":
            target = ref[1]
        else:
            ex = state.runs[ref[1]]
            target = ex.activities[ref[2]] if ref[0] == "act" else ex
        state.heap.append((at, seq, kind, target, tuple(key) if kind == "timer" else key))
    state.heap.sort(key=lambda entry: (entry[0], entry[1]))  # a sorted list is a valid heap
    for key, refs in data["activity_queues"]:
        aq: TaskQueue[Activity] = state.activity_queues.setdefault((key[0], key[1]), TaskQueue())
        for run_id, activity_id in refs:
            act = state.runs[run_id].activities[activity_id]
            aq.push(act, _priority(act))
    for key, run_ids in data["decision_queues"]:
        dq: TaskQueue[Execution] = state.decision_queues.setdefault((key[0], key[1]), TaskQueue())
        for run_id in run_ids:
            dq.push(state.runs[run_id], state.runs[run_id].priority)
    return state


def _priority(act: Activity) -> str | None:
    scheduled = act.ex.events[act.scheduled_id - 1]
    # A Lambda stand-in's (LambdaFunctionScheduled) has none.
    priority: str | None = (scheduled.get(attr_key("ActivityTaskScheduled")) or {}).get("taskPriority")
    return priority
