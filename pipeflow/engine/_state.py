"""State: the pure SWF state machine (no threads, no clock: every call gets ``now``)."""

from __future__ import annotations

import base64
import hashlib
import heapq
from typing import Any

from ._closed import Closed
from ._execution import Activity, ClosedRef, Execution, attr_key
from ._faults import SWFFault
from ._lambda import LAMBDA_VERSION, lambda_event
from ._model import Limits
from ._registry import Registry
from ._tasklist import TaskQueue

__all__ = ["State", "seconds", "unknown_execution"]


def unknown_execution(workflow_id: str, run_id: str | None) -> str:
    """SWF's UnknownResourceFault message for an execution (no runId part when none was given)."""
    run = f", runId={run_id}" if run_id else ""
    return f"Unknown execution: WorkflowExecution=[workflowId={workflow_id}{run}]"


def seconds(value: str | None) -> float | None:
    """An SWF duration string in seconds; None for "NONE" (no timeout)."""
    if value is None or value == "NONE":
        return None
    return float(value)


class State:
    """Domains, types, executions, task lists and scheduled timeouts."""

    def __init__(self, salt: str, limits: Limits = Limits()) -> None:
        self.salt = salt
        self.limits = limits
        self.counter = 0
        self.registry = Registry()
        self.runs: dict[str, Execution] = {}  # in memory: the open runs, and those closed since the last snapshot
        self.closed = Closed()  # closed runs outside memory (the engine's database), read when a call names them
        self.purged: set[str] = set()  # runs of ``closed`` forgotten since (their retention ended)
        self.open_runs: dict[tuple[str, str], Execution] = {}  # (domain, workflowId)
        self.tokens: dict[str, Activity | Execution] = {}
        self.activity_queues: dict[tuple[str, str], TaskQueue[Activity]] = {}
        self.decision_queues: dict[tuple[str, str], TaskQueue[Execution]] = {}
        self.heap: list[tuple[float, int, str, Any, Any]] = []
        self.heap_seq = 0
        # Task lists that received tasks during the last call, for the runtime to wake pollers.
        self.woken: list[tuple[str, tuple[str, str]]] = []

    # --- ids
    def _next(self) -> int:
        self.counter += 1
        return self.counter

    def new_run_id(self) -> str:
        raw = hashlib.sha256(f"{self.salt}:{self._next()}".encode()).digest()
        return base64.b64encode(raw).decode()

    def new_token(self) -> str:
        return f"{self.salt}.{self._next()}"

    # --- timeouts
    def schedule(self, at: float, kind: str, target: Any, key: Any) -> None:
        self.heap_seq += 1
        heapq.heappush(self.heap, (at, self.heap_seq, kind, target, key))

    def next_deadline(self) -> float | None:
        return self.heap[0][0] if self.heap else None

    def advance(self, now: float) -> bool:
        """Fire every timeout due at ``now``; True if anything changed."""
        changed = False
        heap = self.heap
        while heap and heap[0][0] <= now:
            _, _, kind, target, key = heapq.heappop(heap)
            changed = self._fire(kind, target, key, now) or changed
        return changed

    def _fire(self, kind: str, target: Any, key: Any, now: float) -> bool:
        if kind == "timer":
            ex: Execution = target
            timer_id, started = key
            if not ex.open or ex.timers.get(timer_id) != started:
                return False
            del ex.timers[timer_id]
            ex.add("TimerFired", {"timerId": timer_id, "startedEventId": started}, now)
            self.settle(ex, now)
            return True
        if kind == "decision":
            ex = target
            if not ex.open or ex.decision != "started" or ex.d_started_id != key:
                return False
            ex.add("DecisionTaskTimedOut", {"timeoutType": "START_TO_CLOSE",
                                            "scheduledEventId": ex.d_scheduled_id,
                                            "startedEventId": ex.d_started_id}, now)
            self.tokens.pop(ex.d_token or "", None)
            ex.decision, ex.d_token = None, None
            self.settle(ex, now)
            return True
        if kind == "purge":  # the domain's retention period is over: SWF forgets the closed run
            if self.runs.pop(target, None) is not None:
                return True
            if target in self.purged:
                return False
            self.purged.add(target)  # its row is deleted by the next snapshot
            return True
        if kind == "execution":
            ex = target
            if not ex.open or ex.run_id != key:
                return False
            ex.add("WorkflowExecutionTimedOut", {"timeoutType": "START_TO_CLOSE",
                                                 "childPolicy": ex.child_policy}, now)
            self.close(ex, "TIMED_OUT", now)
            return True
        act: Activity = target
        if act.closed:
            return False
        if kind == "SCHEDULE_TO_START" and act.started_id:
            return False
        if kind in ("START_TO_CLOSE", "HEARTBEAT") and (not act.started_id or act.started_id != key):
            return False
        if kind == "HEARTBEAT":
            due = act.last_beat + float(act.heartbeat)
            if due > now:
                self.schedule(due, "HEARTBEAT", act, key)
                return True  # the heap changed: logged, so a replay rebuilds the same heap
        attrs: dict[str, Any] = {"timeoutType": kind, "scheduledEventId": act.scheduled_id,
                                 "startedEventId": act.started_id}
        if act.details is not None:
            attrs["details"] = act.details
        self.close_activity(act, "ActivityTaskTimedOut", attrs, now)
        return True

    # --- decision tasks
    def settle(self, ex: Execution, now: float) -> None:
        """Schedule a decision task if new events need one and none is scheduled."""
        if not ex.open or self.check_event_limit(ex, now):
            return
        if not ex.unhandled or ex.decision == "started":
            return
        ex.unhandled = False
        if ex.decision == "scheduled":
            return
        attrs: dict[str, Any] = {"taskList": {"name": ex.decision_task_list},
                                 "startToCloseTimeout": ex.task_timeout}
        if ex.priority is not None:
            attrs["taskPriority"] = ex.priority
        ex.d_scheduled_id = ex.add("DecisionTaskScheduled", attrs, now)
        ex.decision = "scheduled"
        key = (ex.domain, ex.decision_task_list)
        q = self.decision_queues.get(key)
        if q is None:
            q = self.decision_queues[key] = TaskQueue()
        q.push(ex, ex.priority)
        self.woken.append(("d", key))

    def check_event_limit(self, ex: Execution, now: float) -> bool:
        """Terminate an execution about to pass the history limit (as SWF); True if it did."""
        if len(ex.events) < self.limits.max_events - 1:
            return False
        ex.add("WorkflowExecutionTerminated", {"childPolicy": ex.child_policy,
                                                "cause": "EVENT_LIMIT_EXCEEDED"}, now)
        self.close(ex, "TERMINATED", now)
        return True

    # --- closing
    def close_activity(self, act: Activity, event_type: str, attrs: dict[str, Any], now: float) -> None:
        ex = act.ex
        act.closed = True
        ex.activities.pop(act.activity_id, None)
        if act.token is not None:
            self.tokens.pop(act.token, None)
        if act.activity_type.get("version") == LAMBDA_VERSION:  # a Lambda function's stand-in (see _lambda)
            event_type, attrs = lambda_event(event_type, attrs)
        ex.add(event_type, attrs, now)
        self.settle(ex, now)

    def close(self, ex: Execution, status: str, now: float, child_policy: str | None = None) -> None:
        """Close an execution whose closing event is already recorded."""
        ex.open = False
        ex.close_status = status
        ex.close_ts = now
        self.open_runs.pop((ex.domain, ex.workflow_id), None)
        if ex.d_token is not None:
            self.tokens.pop(ex.d_token, None)
        for act in ex.activities.values():
            act.closed = True
            if act.token is not None:
                self.tokens.pop(act.token, None)
        ex.activities.clear()
        ex.timers.clear()
        ex.decision = None
        retention = self.registry.domains[ex.domain]["retention"]
        if retention.isdigit() and int(retention) > 0:  # "0" and "NONE": kept (SWF would drop them at once)
            self.schedule(now + int(retention) * 86_400, "purge", ex.run_id, ex.run_id)
        self._apply_child_policy(ex, child_policy or ex.child_policy, now)
        if ex.parent is not None and status != "CONTINUED_AS_NEW":
            self._notify_parent(ex, status, now)

    def _apply_child_policy(self, ex: Execution, policy: str, now: float) -> None:
        for child in list(ex.children.values()):
            cex = self.open_runs.get((ex.domain, child.workflow_id))
            if cex is None or cex.parent is not ex:
                continue
            # cex keeps its parent (SWF still shows it in executionInfo); a closed parent records nothing more.
            if policy == "TERMINATE":
                cex.add("WorkflowExecutionTerminated", {"childPolicy": cex.child_policy,
                                                         "cause": "CHILD_POLICY_APPLIED"}, now)
                self.close(cex, "TERMINATED", now)
            elif policy == "REQUEST_CANCEL":
                cex.cancel_requested = True
                cex.add("WorkflowExecutionCancelRequested", {"cause": "CHILD_POLICY_APPLIED",
                                                             "externalInitiatedEventId": 0}, now)
                self.settle(cex, now)
        ex.children.clear()

    def _notify_parent(self, ex: Execution, status: str, now: float) -> None:
        parent = ex.parent
        assert parent is not None
        child = parent.children.pop(ex.workflow_id, None)
        if not isinstance(parent, Execution) or not parent.open or child is None:
            return
        last = ex.events[-1][attr_key(ex.events[-1]["eventType"])]
        attrs: dict[str, Any] = {"workflowExecution": ex.ref, "workflowType": dict(ex.workflow_type),
                                 "initiatedEventId": child.initiated_id, "startedEventId": child.started_id}
        event_type = {"COMPLETED": "ChildWorkflowExecutionCompleted", "FAILED": "ChildWorkflowExecutionFailed",
                      "CANCELED": "ChildWorkflowExecutionCanceled", "TERMINATED": "ChildWorkflowExecutionTerminated",
                      "TIMED_OUT": "ChildWorkflowExecutionTimedOut"}[status]
        for name in ("result", "reason", "details"):
            if name in last:
                attrs[name] = last[name]
        if status == "TIMED_OUT":
            attrs["timeoutType"] = "START_TO_CLOSE"
        parent.add(event_type, attrs, now)
        self.settle(parent, now)

    # --- starting executions
    def start_execution(self, p: dict[str, Any], now: float, *, parent: Execution | ClosedRef | None = None,
                        parent_initiated_id: int = 0, continued_from: str | None = None,
                        run_id: str | None = None) -> Execution:
        """Start a run from validated, defaulted config ``p`` (keys of StartWorkflowExecution)."""
        ex = Execution(p["domain"], p["workflowId"], run_id or self.new_run_id(), p, now)
        ex.parent, ex.parent_initiated_id = parent, parent_initiated_id
        attrs: dict[str, Any] = {
            "executionStartToCloseTimeout": ex.exec_timeout, "taskStartToCloseTimeout": ex.task_timeout,
            "childPolicy": ex.child_policy, "taskList": {"name": ex.task_list},
            "workflowType": dict(ex.workflow_type),
        }
        for name in ("input", "taskPriority", "lambdaRole"):
            if p.get(name) is not None:
                attrs[name] = p[name]
        if ex.tags:
            attrs["tagList"] = list(ex.tags)
        if continued_from:
            attrs["continuedExecutionRunId"] = continued_from
        # As recorded on real SWF histories: a top-level run's WorkflowExecutionStarted carries
        # parentInitiatedEventId 0, though the documentation describes it only for a child.
        attrs["parentInitiatedEventId"] = parent_initiated_id
        if parent is not None:
            parent_child = parent.children.get(ex.workflow_id)
            if parent_child is not None:  # a continued child: the parent follows its new run
                parent_child.run_id = ex.run_id
            attrs["parentWorkflowExecution"] = parent.ref
        self.runs[ex.run_id] = ex
        self.open_runs[(ex.domain, ex.workflow_id)] = ex
        ex.add("WorkflowExecutionStarted", attrs, now)
        limit = seconds(ex.exec_timeout)
        if limit is not None:
            self.schedule(now + limit, "execution", ex, ex.run_id)
        self.settle(ex, now)
        return ex

    def resolve_workflow_config(self, domain: str, p: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """Fill a start request's missing settings from the type; (config, failure cause)."""
        rec = self.registry.get_type("workflow", domain, p["workflowType"])
        if rec is None:
            return p, "WORKFLOW_TYPE_DOES_NOT_EXIST"
        if rec["status"] != "REGISTERED":
            return p, "WORKFLOW_TYPE_DEPRECATED"
        cfg = dict(p)
        cfg["domain"] = domain
        for name, default, cause in (
            ("taskList", "defaultTaskList", "DEFAULT_TASK_LIST_UNDEFINED"),
            ("executionStartToCloseTimeout", "defaultExecutionStartToCloseTimeout",
             "DEFAULT_EXECUTION_START_TO_CLOSE_TIMEOUT_UNDEFINED"),
            ("taskStartToCloseTimeout", "defaultTaskStartToCloseTimeout",
             "DEFAULT_TASK_START_TO_CLOSE_TIMEOUT_UNDEFINED"),
            ("childPolicy", "defaultChildPolicy", "DEFAULT_CHILD_POLICY_UNDEFINED"),
        ):
            if cfg.get(name) is None:
                if default not in rec["config"]:
                    return cfg, cause
                cfg[name] = rec["config"][default]
        if cfg.get("taskPriority") is None and "defaultTaskPriority" in rec["config"]:
            cfg["taskPriority"] = rec["config"]["defaultTaskPriority"]
        if cfg.get("lambdaRole") is None and "defaultLambdaRole" in rec["config"]:
            cfg["lambdaRole"] = rec["config"]["defaultLambdaRole"]
        return cfg, None

    def find_run(self, domain: str, execution: dict[str, str]) -> Execution:
        run_id = execution.get("runId")
        ex = self.lookup(run_id) if run_id else self.open_runs.get((domain, execution["workflowId"]))
        if ex is None or ex.domain != domain or ex.workflow_id != execution["workflowId"]:
            raise SWFFault("UnknownResourceFault", unknown_execution(execution["workflowId"], run_id))
        return ex

    def lookup(self, run_id: str) -> Execution | None:
        """A run by its id: in memory, else a closed one read back from the database (never changed)."""
        ex = self.runs.get(run_id)
        if ex is None and run_id not in self.purged:
            ex = self.closed.get(run_id)
        return ex

    def open_run(self, domain: str, workflow_id: str, run_id: str | None) -> Execution:
        self.registry.domain(domain)
        ex = self.open_runs.get((domain, workflow_id))
        if ex is None or (run_id and ex.run_id != run_id):
            raise SWFFault("UnknownResourceFault", unknown_execution(workflow_id, run_id))
        return ex
