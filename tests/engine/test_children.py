"""Child workflows, ContinueAsNew, external signals and cancel requests."""

from __future__ import annotations

import pytest

from ._driver import WF, Driver, decision


@pytest.fixture()
def d() -> Driver:
    drv = Driver()
    drv.setup()
    return drv


def _child(workflow_id: str = "c", **extra: object) -> dict[str, object]:
    return decision("StartChildWorkflowExecution", workflowId=workflow_id, workflowType=WF, input="ci", **extra)


def test_child_completes_into_parent(d: Driver) -> None:
    parent_run = d.start("p")
    d.decide(_child(control="ctl"))
    assert d.types("p")[-2:] == ["ChildWorkflowExecutionStarted", "DecisionTaskScheduled"]
    started = d.attrs("c", "WorkflowExecutionStarted")
    assert started["parentWorkflowExecution"] == {"workflowId": "p", "runId": parent_run}
    assert started["input"] == "ci"
    # two decision tasks are pending (parent and child); answer the child's, then the parent's no-op
    for _ in range(2):
        task = d("PollForDecisionTask", domain="d", taskList={"name": "dt"})
        is_child = task["workflowExecution"]["workflowId"] == "c"
        done = [decision("CompleteWorkflowExecution", result="cr")] if is_child else []
        d("RespondDecisionTaskCompleted", taskToken=task["taskToken"], decisions=done)
    completed = d.attrs("p", "ChildWorkflowExecutionCompleted")
    assert completed["result"] == "cr" and completed["workflowExecution"]["workflowId"] == "c"
    assert completed["initiatedEventId"] == d.attrs("p", "ChildWorkflowExecutionStarted")["initiatedEventId"]


def test_child_already_running_fails(d: Driver) -> None:
    d.start("p")
    d.start("c")
    d.decide(_child())  # the first queued decision task is p's
    failed = d.attrs("p", "StartChildWorkflowExecutionFailed")
    assert failed["cause"] == "WORKFLOW_ALREADY_RUNNING" and failed["initiatedEventId"] > 0


@pytest.mark.parametrize(("policy", "closing"), [("TERMINATE", "WorkflowExecutionTerminated"),
                                                 ("REQUEST_CANCEL", "WorkflowExecutionCancelRequested"),
                                                 ("ABANDON", "DecisionTaskScheduled")])
def test_child_policy_on_parent_close(d: Driver, policy: str, closing: str) -> None:
    d.start("p")
    d.decide(_child(childPolicy="ABANDON"))
    d("TerminateWorkflowExecution", domain="d", workflowId="p", childPolicy=policy)
    assert d.types("c")[-1] == closing


def test_continue_as_new(d: Driver) -> None:
    first = d.start("w1")
    d.decide(decision("ContinueAsNewWorkflowExecution", input="again"))
    assert d.types("w1", first)[-1] == "WorkflowExecutionContinuedAsNew"
    new_run = d.attrs("w1", "WorkflowExecutionStarted")
    assert new_run["continuedExecutionRunId"] == first and new_run["input"] == "again"
    described = d("DescribeWorkflowExecution", domain="d", execution={"workflowId": "w1", "runId": first})
    assert described["executionInfo"]["closeStatus"] == "CONTINUED_AS_NEW"
    assert d("CountOpenWorkflowExecutions", domain="d", startTimeFilter={"oldestDate": 0})["count"] == 1


def test_continued_child_reports_to_parent(d: Driver) -> None:
    d.start("p")
    d.decide(_child())
    task = d("PollForDecisionTask", domain="d", taskList={"name": "dt"})
    assert task["workflowExecution"]["workflowId"] == "c"
    d("RespondDecisionTaskCompleted", taskToken=task["taskToken"],
      decisions=[decision("ContinueAsNewWorkflowExecution")])
    d.decide()  # parent's task for ChildWorkflowExecutionStarted
    d.decide(decision("FailWorkflowExecution", reason="boom"))  # the child's new run
    assert d.attrs("p", "ChildWorkflowExecutionFailed")["reason"] == "boom"


def test_signal_and_cancel_external(d: Driver) -> None:
    d.start("a")
    d.start("b")
    d.decide(decision("SignalExternalWorkflowExecution", workflowId="b", signalName="hi", input="x"),
             decision("RequestCancelExternalWorkflowExecution", workflowId="b"),
             decision("SignalExternalWorkflowExecution", workflowId="ghost", signalName="hi"))
    assert "ExternalWorkflowExecutionSignaled" in d.types("a")
    assert "ExternalWorkflowExecutionCancelRequested" in d.types("a")
    assert d.attrs("a", "SignalExternalWorkflowExecutionFailed")["cause"] == "UNKNOWN_EXTERNAL_WORKFLOW_EXECUTION"
    signaled = d.attrs("b", "WorkflowExecutionSignaled")
    assert signaled["signalName"] == "hi" and signaled["externalWorkflowExecution"]["workflowId"] == "a"
    assert "WorkflowExecutionCancelRequested" in d.types("b")


def test_open_timer_and_child_limits() -> None:
    from pipeflow.engine import Limits

    d = Driver(Limits(max_open_timers=1, max_open_children=1))
    d.setup()
    d.start("p")
    d.decide(decision("StartTimer", timerId="t1", startToFireTimeout="9"),
             decision("StartTimer", timerId="t2", startToFireTimeout="9"),
             _child("c1"), _child("c2"))
    assert d.attrs("p", "StartTimerFailed")["cause"] == "OPEN_TIMERS_LIMIT_EXCEEDED"
    # c1 counts from its initiation, before it has started
    failed = d.attrs("p", "StartChildWorkflowExecutionFailed")
    assert (failed["workflowId"], failed["cause"]) == ("c2", "OPEN_CHILDREN_LIMIT_EXCEEDED")


def test_continue_as_new_to_a_deprecated_type_fails(d: Driver) -> None:
    d.start()
    d("DeprecateWorkflowType", domain="d", workflowType=WF)
    d.decide(decision("ContinueAsNewWorkflowExecution"))
    assert d.attrs("w1", "ContinueAsNewWorkflowExecutionFailed")["cause"] == "WORKFLOW_TYPE_DEPRECATED"
    assert d.types()[-1] == "DecisionTaskScheduled"
