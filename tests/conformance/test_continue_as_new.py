"""ContinueAsNewWorkflowExecution (what `pf.repeat` closes each run with) on both backends.

moto 5.2 has no ContinueAsNew (SWF-LIMITS.md): the cases are strict xfails there, so a moto that
gains it turns them red. pipeflow's repeat passes every setting of the run explicitly (task list,
timeouts, child policy, tags), so the defaults case below does not touch it.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance.conftest import TASK_LIST, Backend, backends, check_output

MOTO = "ContinueAsNewWorkflowExecution is not implemented (HTTP 500 after part of the decision list)"


def continue_as_new(**attrs: Any) -> dict[str, Any]:
    return {"decisionType": "ContinueAsNewWorkflowExecution", "continueAsNewWorkflowExecutionDecisionAttributes": attrs}


@pytest.mark.parametrize("backend", backends(moto=MOTO), indirect=True)
def test_continue_as_new_closes_the_run_and_starts_the_next(backend: Backend) -> None:
    backend.setup()
    first = backend.start("w1")
    backend.decide(backend.poll_decision(), continue_as_new(input="again", taskList=TASK_LIST,
                                                            executionStartToCloseTimeout="200", tagList=["t"]))
    closing = backend.history(first)[-1]
    assert closing["eventType"] == "WorkflowExecutionContinuedAsNew"
    attrs = closing["workflowExecutionContinuedAsNewEventAttributes"]
    assert (attrs["input"], attrs["taskList"], attrs["tagList"]) == ("again", TASK_LIST, ["t"])
    described = backend.swf.describe_workflow_execution(domain=backend.domain, execution=first)
    check_output("DescribeWorkflowExecution", described)
    assert described["executionInfo"]["closeStatus"] == "CONTINUED_AS_NEW"
    following = {"workflowId": "w1", "runId": attrs["newExecutionRunId"]}
    info = backend.swf.describe_workflow_execution(domain=backend.domain, execution=following)
    assert info["executionInfo"]["executionStatus"] == "OPEN"
    assert info["executionConfiguration"]["executionStartToCloseTimeout"] == "200"
    started = backend.history(following)[0]["workflowExecutionStartedEventAttributes"]
    assert (started["continuedExecutionRunId"], started["input"]) == (first["runId"], "again")
    # The same workflow id, one open run: the next decision task is the new run's.
    assert backend.poll_decision()["workflowExecution"] == following


@pytest.mark.parametrize("backend", backends(moto=MOTO), indirect=True)
def test_continue_as_new_with_a_pending_event_is_refused(backend: Backend) -> None:
    backend.setup()
    first = backend.start("w1")
    task = backend.poll_decision()
    backend.swf.signal_workflow_execution(domain=backend.domain, workflowId="w1", signalName="go", input="now")
    backend.decide(task, continue_as_new(input="again"))
    kinds = [e["eventType"] for e in backend.history(first)]
    assert "ContinueAsNewWorkflowExecutionFailed" in kinds and "WorkflowExecutionContinuedAsNew" not in kinds
    failed = [e for e in backend.history(first) if e["eventType"] == "ContinueAsNewWorkflowExecutionFailed"][0]
    assert failed["continueAsNewWorkflowExecutionFailedEventAttributes"]["cause"] == "UNHANDLED_DECISION"


@pytest.mark.parametrize("backend", backends(moto=MOTO), indirect=True)
def test_settings_left_out_come_from_the_workflow_type(backend: Backend) -> None:
    backend.setup()  # the type's default execution timeout is 300 seconds
    backend.start("w1", executionStartToCloseTimeout="100", tagList=["t"])
    backend.decide(backend.poll_decision(), continue_as_new(input="again"))
    following = backend.swf.describe_workflow_execution(domain=backend.domain, execution={
        "workflowId": "w1", "runId": backend.poll_decision()["workflowExecution"]["runId"]})
    assert following["executionConfiguration"]["executionStartToCloseTimeout"] == "300"
    assert not following["executionInfo"].get("tagList")
