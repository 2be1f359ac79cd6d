"""StartWorkflowExecution, Describe/List/Count of executions, Signal, RequestCancel, Terminate."""

from __future__ import annotations

import pytest

from .conftest import WORKFLOW, Backend, backends, check_output, complete

NO_COUNT = "CountOpen/ClosedWorkflowExecutions are not implemented"
NO_CANCEL = "RequestCancelWorkflowExecution is not implemented"


def test_start(backend: Backend) -> None:
    backend.setup()
    out = backend.swf.start_workflow_execution(domain=backend.domain, workflowId="w1", workflowType=WORKFLOW,
                                               input="in", tagList=["t"])
    check_output("StartWorkflowExecution", out)
    assert out["runId"]


def test_start_unknown_domain(backend: Backend) -> None:
    backend.fault("UnknownResourceFault", "start_workflow_execution", domain=backend.domain, workflowId="w1",
                  workflowType=WORKFLOW)


def test_start_unknown_type(backend: Backend) -> None:
    backend.setup()
    backend.fault("UnknownResourceFault", "start_workflow_execution", domain=backend.domain, workflowId="w1",
                  workflowType={"name": "wf", "version": "nope"})


def test_start_deprecated_type(backend: Backend) -> None:
    backend.setup()
    backend.swf.deprecate_workflow_type(domain=backend.domain, workflowType=WORKFLOW)
    backend.fault("TypeDeprecatedFault", "start_workflow_execution", domain=backend.domain, workflowId="w1",
                  workflowType=WORKFLOW)


def test_start_twice(backend: Backend) -> None:
    backend.setup()
    backend.start("w1")
    backend.fault("WorkflowExecutionAlreadyStartedFault", "start_workflow_execution", domain=backend.domain,
                  workflowId="w1", workflowType=WORKFLOW)


def test_start_without_defaults(backend: Backend) -> None:
    backend.register_domain()
    backend.swf.register_workflow_type(domain=backend.domain, **WORKFLOW)
    backend.fault("DefaultUndefinedFault", "start_workflow_execution", domain=backend.domain, workflowId="w1",
                  workflowType=WORKFLOW)


@pytest.mark.parametrize("backend", backends(moto="starts executions in a deprecated domain"), indirect=True)
def test_start_in_deprecated_domain(backend: Backend) -> None:
    backend.setup()
    backend.swf.deprecate_domain(name=backend.domain)
    backend.fault("DomainDeprecatedFault", "start_workflow_execution", domain=backend.domain, workflowId="w1",
                  workflowType=WORKFLOW)


def test_describe_execution(backend: Backend) -> None:
    backend.setup()
    run = backend.start("w1", tagList=["t"])
    out = backend.swf.describe_workflow_execution(domain=backend.domain, execution=run)
    check_output("DescribeWorkflowExecution", out)
    info = out["executionInfo"]
    assert (info["execution"], info["workflowType"], info["executionStatus"]) == (run, WORKFLOW, "OPEN")
    assert info["cancelRequested"] is False
    assert info["tagList"] == ["t"]
    assert out["executionConfiguration"]["taskList"] == {"name": "main"}
    assert out["openCounts"]["openDecisionTasks"] == 1


def test_describe_unknown_execution(backend: Backend) -> None:
    backend.setup()
    backend.fault("UnknownResourceFault", "describe_workflow_execution", domain=backend.domain,
                  execution={"workflowId": "w1", "runId": "22QQmmuhr+Ghu6yomMxhRg+JTVHyJkufyH0WpaVjBZK8o="})


def test_history(backend: Backend) -> None:
    backend.setup()
    run = backend.start("w1")
    out = backend.swf.get_workflow_execution_history(domain=backend.domain, execution=run)
    check_output("GetWorkflowExecutionHistory", out)
    assert [e["eventType"] for e in out["events"]] == ["WorkflowExecutionStarted", "DecisionTaskScheduled"]
    assert [e["eventId"] for e in out["events"]] == [1, 2]


def test_history_unknown_execution(backend: Backend) -> None:
    backend.setup()
    backend.fault("UnknownResourceFault", "get_workflow_execution_history", domain=backend.domain,
                  execution={"workflowId": "w1", "runId": "22QQmmuhr+Ghu6yomMxhRg+JTVHyJkufyH0WpaVjBZK8o="})


def test_list_open(backend: Backend) -> None:
    backend.setup()
    run = backend.start("w1")
    out = backend.swf.list_open_workflow_executions(domain=backend.domain, startTimeFilter={"oldestDate": 0})
    check_output("ListOpenWorkflowExecutions", out)
    assert [i["execution"] for i in out["executionInfos"]] == [run]


def test_list_closed(backend: Backend) -> None:
    backend.setup()
    run = backend.start("w1")
    backend.swf.terminate_workflow_execution(domain=backend.domain, workflowId="w1")
    out = backend.swf.list_closed_workflow_executions(domain=backend.domain, startTimeFilter={"oldestDate": 0})
    check_output("ListClosedWorkflowExecutions", out)
    assert [(i["execution"], i["closeStatus"]) for i in out["executionInfos"]] == [(run, "TERMINATED")]


@pytest.mark.parametrize("call", ["list_open_workflow_executions", "list_closed_workflow_executions"])
def test_list_unknown_domain(backend: Backend, call: str) -> None:
    backend.fault("UnknownResourceFault", call, domain=backend.domain, startTimeFilter={"oldestDate": 0})


@pytest.mark.parametrize("backend", backends(moto=NO_COUNT), indirect=True)
def test_count(backend: Backend) -> None:
    backend.setup()
    backend.start("w1")
    backend.start("w2")
    backend.swf.terminate_workflow_execution(domain=backend.domain, workflowId="w2")
    opened = backend.swf.count_open_workflow_executions(domain=backend.domain, startTimeFilter={"oldestDate": 0})
    closed = backend.swf.count_closed_workflow_executions(domain=backend.domain, startTimeFilter={"oldestDate": 0})
    check_output("CountOpenWorkflowExecutions", opened)
    check_output("CountClosedWorkflowExecutions", closed)
    assert (opened["count"], opened["truncated"], closed["count"], closed["truncated"]) == (1, False, 1, False)


@pytest.mark.parametrize("call", ["count_open_workflow_executions", "count_closed_workflow_executions"])
@pytest.mark.parametrize("backend", backends(moto=NO_COUNT), indirect=True)
def test_count_unknown_domain(backend: Backend, call: str) -> None:
    backend.fault("UnknownResourceFault", call, domain=backend.domain, startTimeFilter={"oldestDate": 0})


def test_signal(backend: Backend) -> None:
    backend.setup()
    run = backend.start("w1")
    check_output("SignalWorkflowExecution", backend.swf.signal_workflow_execution(
        domain=backend.domain, workflowId="w1", signalName="go", input="now"))
    signaled = [e for e in backend.history(run) if e["eventType"] == "WorkflowExecutionSignaled"]
    attrs = signaled[0]["workflowExecutionSignaledEventAttributes"]
    assert (attrs["signalName"], attrs["input"]) == ("go", "now")


@pytest.mark.parametrize("backend", backends(
    moto="schedules a second decision task while one is already scheduled"), indirect=True)
def test_signal_while_a_decision_is_scheduled(backend: Backend) -> None:
    backend.setup()
    run = backend.start("w1")
    backend.swf.signal_workflow_execution(domain=backend.domain, workflowId="w1", signalName="go", input="now")
    assert [e["eventType"] for e in backend.history(run)] == [
        "WorkflowExecutionStarted", "DecisionTaskScheduled", "WorkflowExecutionSignaled"]


@pytest.mark.parametrize("backend", backends(moto="HTTP 500 on a signal without input"), indirect=True)
def test_signal_without_input(backend: Backend) -> None:
    backend.setup()
    backend.start("w1")
    backend.swf.signal_workflow_execution(domain=backend.domain, workflowId="w1", signalName="go")


def test_signal_unknown_execution(backend: Backend) -> None:
    backend.setup()
    backend.fault("UnknownResourceFault", "signal_workflow_execution", domain=backend.domain, workflowId="w1",
                  signalName="go", input="x")


@pytest.mark.parametrize("backend", backends(moto=NO_CANCEL), indirect=True)
def test_request_cancel(backend: Backend) -> None:
    backend.setup()
    run = backend.start("w1")
    check_output("RequestCancelWorkflowExecution",
                 backend.swf.request_cancel_workflow_execution(domain=backend.domain, workflowId="w1"))
    assert backend.history(run)[-1]["eventType"] == "WorkflowExecutionCancelRequested"
    info = backend.swf.describe_workflow_execution(domain=backend.domain, execution=run)["executionInfo"]
    assert info["cancelRequested"] is True


@pytest.mark.parametrize("backend", backends(moto=NO_CANCEL), indirect=True)
def test_request_cancel_unknown_execution(backend: Backend) -> None:
    backend.setup()
    backend.fault("UnknownResourceFault", "request_cancel_workflow_execution", domain=backend.domain,
                  workflowId="w1")


@pytest.mark.parametrize("backend", backends(moto=NO_CANCEL), indirect=True)
def test_canceled_execution(backend: Backend) -> None:
    backend.setup()
    run = backend.start("w1")
    backend.swf.request_cancel_workflow_execution(domain=backend.domain, workflowId="w1")
    backend.decide(backend.poll_decision(), {"decisionType": "CancelWorkflowExecution",
                                             "cancelWorkflowExecutionDecisionAttributes": {"details": "bye"}})
    info = backend.swf.describe_workflow_execution(domain=backend.domain, execution=run)["executionInfo"]
    assert (info["executionStatus"], info["closeStatus"]) == ("CLOSED", "CANCELED")
    assert info["cancelRequested"] is False  # what SWF answers once the run is CANCELED
    requested = [e for e in backend.history(run) if e["eventType"] == "WorkflowExecutionCancelRequested"]
    assert requested[0]["workflowExecutionCancelRequestedEventAttributes"]["externalInitiatedEventId"] == 0


def test_terminate(backend: Backend) -> None:
    backend.setup()
    run = backend.start("w1")
    check_output("TerminateWorkflowExecution", backend.swf.terminate_workflow_execution(
        domain=backend.domain, workflowId="w1", reason="why", details="because"))
    info = backend.swf.describe_workflow_execution(domain=backend.domain, execution=run)["executionInfo"]
    assert (info["executionStatus"], info["closeStatus"]) == ("CLOSED", "TERMINATED")


def test_terminate_unknown_execution(backend: Backend) -> None:
    backend.setup()
    backend.fault("UnknownResourceFault", "terminate_workflow_execution", domain=backend.domain, workflowId="w1")


def test_terminate_closed_execution(backend: Backend) -> None:
    backend.setup()
    backend.start("w1")
    backend.decide(backend.poll_decision(), complete())
    backend.fault("UnknownResourceFault", "terminate_workflow_execution", domain=backend.domain, workflowId="w1")
