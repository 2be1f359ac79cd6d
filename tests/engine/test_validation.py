"""Requests are checked against the whole SWF model, in AWS's words, before anything changes; and engine fixes."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from pipeflow.engine import Engine, EngineServer, SWFFault

from ._driver import WF, Driver, decision, schedule

TASK_LIST = {"name": "main"}


@pytest.fixture()
def d() -> Driver:
    drv = Driver()
    drv.setup()
    return drv


def _fault(code: str, d: Driver, op: str, **params: Any) -> str:
    with pytest.raises(SWFFault) as info:
        d(op, **params)
    assert info.value.code == code, info.value
    assert "\n" not in info.value.message
    return info.value.message


def _swf(url: str, region: str = "us-east-1") -> Any:
    config = Config(retries={"total_max_attempts": 1}, read_timeout=75, connect_timeout=5)
    return boto3.client("swf", endpoint_url=url, config=config, region_name=region)


def _refusal(call: Any, **params: Any) -> tuple[int, str]:
    with pytest.raises(ClientError) as info:
        call(**params)
    error = info.value.response["Error"]
    assert error["Code"] == "ValidationException", error
    return info.value.response["ResponseMetadata"]["HTTPStatusCode"], error["Message"]


def _domain(swf: Any) -> str:
    domain = f"validation-{uuid.uuid4().hex[:8]}"
    swf.register_domain(name=domain, workflowExecutionRetentionPeriodInDays="1")
    swf.register_workflow_type(domain=domain, **WF, defaultTaskList=TASK_LIST, defaultChildPolicy="TERMINATE",
                               defaultExecutionStartToCloseTimeout="300", defaultTaskStartToCloseTimeout="60")
    swf.register_activity_type(domain=domain, name="act", version="1", defaultTaskList=TASK_LIST,
                               defaultTaskScheduleToStartTimeout="60", defaultTaskScheduleToCloseTimeout="120",
                               defaultTaskStartToCloseTimeout="60", defaultTaskHeartbeatTimeout="60")
    return domain


# --- over HTTP, against a real `pipeflow server`

def test_bad_decision_type_is_refused_whole_and_the_task_can_answer_again(pipeflow_url: str) -> None:
    swf = _swf(pipeflow_url)
    domain = _domain(swf)
    run = {"workflowId": "w", "runId": swf.start_workflow_execution(domain=domain, workflowId="w",
                                                                   workflowType=WF)["runId"]}
    task = swf.poll_for_decision_task(domain=domain, taskList=TASK_LIST)
    before = swf.get_workflow_execution_history(domain=domain, execution=run)["events"]
    status, message = _refusal(swf.respond_decision_task_completed, taskToken=task["taskToken"],
                               decisions=[schedule("a1"), {"decisionType": "BadDecisionType"}])
    assert status == 400
    assert message.startswith("1 validation error detected: Value 'BadDecisionType' at "
                              "'decisions.2.member.decisionType' failed to satisfy constraint: "
                              "Member must satisfy enum value set: [ScheduleActivityTask, ")
    assert swf.get_workflow_execution_history(domain=domain, execution=run)["events"] == before
    swf.respond_decision_task_completed(taskToken=task["taskToken"], decisions=[schedule("a1")])
    types = [e["eventType"] for e in swf.get_workflow_execution_history(domain=domain, execution=run)["events"]]
    assert types[-2:] == ["DecisionTaskCompleted", "ActivityTaskScheduled"]


def test_model_constraints_are_refused_in_aws_words(pipeflow_url: str) -> None:
    swf = _swf(pipeflow_url)
    domain = _domain(swf)
    status, message = _refusal(swf.list_domains, registrationStatus="BOGUS")
    assert status == 400
    assert message == ("1 validation error detected: Value 'BOGUS' at 'registrationStatus' failed to satisfy "
                       "constraint: Member must satisfy enum value set: [REGISTERED, DEPRECATED]")
    assert "'registrationStatus'" in _refusal(swf.list_workflow_types, domain=domain, registrationStatus="BOGUS")[1]
    assert _refusal(swf.start_workflow_execution, domain=domain, workflowId="w", workflowType=WF,
                    childPolicy="BOGUS")[1] == (
        "1 validation error detected: Value 'BOGUS' at 'childPolicy' failed to satisfy constraint: "
        "Member must satisfy enum value set: [TERMINATE, REQUEST_CANCEL, ABANDON]")
    assert _refusal(swf.list_domains, registrationStatus="BOGUS", maximumPageSize=5000)[1] == (
        "2 validation errors detected: "
        "Value 'BOGUS' at 'registrationStatus' failed to satisfy constraint: "
        "Member must satisfy enum value set: [REGISTERED, DEPRECATED]; "
        "Value '5000' at 'maximumPageSize' failed to satisfy constraint: "
        "Member must have value less than or equal to 1000")
    assert swf.list_open_workflow_executions(domain=domain, startTimeFilter={"oldestDate": 0})["executionInfos"] == []


def test_arns_name_the_region_the_request_was_signed_for(pipeflow_url: str) -> None:
    domain = _domain(_swf(pipeflow_url))
    for region in ("eu-west-3", "us-east-1"):
        arn = _swf(pipeflow_url, region).describe_domain(name=domain)["domainInfo"]["arn"]
        assert arn == f"arn:aws:swf:{region}:000000000000:/domain/{domain}"


def test_an_unverified_request_still_names_its_region() -> None:
    """A server without auth reads the region from the credential scope, else answers with its own."""
    engine = Engine(poll_timeout=1.0, region="ap-south-2")
    try:
        with EngineServer(engine) as server:
            domain = _domain(_swf(server.url))
            signed = _swf(server.url, "eu-central-1").describe_domain(name=domain)["domainInfo"]["arn"]
            assert signed == f"arn:aws:swf:eu-central-1:000000000000:/domain/{domain}"
        own = engine.call("DescribeDomain", {"name": domain})["domainInfo"]["arn"]
        assert own.startswith("arn:aws:swf:ap-south-2:")
    finally:
        engine.close()


# --- in process: the same checks, the state untouched

@pytest.mark.parametrize(("bad", "expected"), [
    ([schedule("a1"), {"decisionType": "StartTimer"}],
     "Value null at 'decisions.2.member.startTimerDecisionAttributes' failed to satisfy constraint: "
     "Member must not be null for a StartTimer decision"),
    ([decision("StartChildWorkflowExecution", workflowId="c", workflowType=WF, childPolicy="BOGUS")],
     "Value 'BOGUS' at 'decisions.1.member.startChildWorkflowExecutionDecisionAttributes.childPolicy' failed "
     "to satisfy constraint: Member must satisfy enum value set: [TERMINATE, REQUEST_CANCEL, ABANDON]"),
    ([schedule("")],
     "Value '' at 'decisions.1.member.scheduleActivityTaskDecisionAttributes.activityId' failed to satisfy "
     "constraint: Member must have length greater than or equal to 1"),
    ([decision("RecordMarker", markerName="m", details="x" * 32_769)],
     "at 'decisions.1.member.recordMarkerDecisionAttributes.details' failed to satisfy constraint: "
     "Member must have length less than or equal to 32768"),
    ([decision("StartTimer", timerId="t", startToFireTimeout="soon")],
     "Value 'soon' at 'decisions.1.member.startTimerDecisionAttributes.startToFireTimeout' failed to satisfy "
     "constraint: Member must be a whole number of seconds"),
])
def test_a_bad_decision_list_changes_nothing(d: Driver, bad: list[dict[str, Any]], expected: str) -> None:
    d.start()
    task = d("PollForDecisionTask", domain="d", taskList={"name": "dt"})
    before = d.types()
    message = _fault("ValidationException", d, "RespondDecisionTaskCompleted", taskToken=task["taskToken"],
                     decisions=bad)
    assert message.startswith("1 validation error detected: ") and expected in message
    assert d.types() == before
    d("RespondDecisionTaskCompleted", taskToken=task["taskToken"], decisions=[schedule("a1")])
    assert d.types()[-2:] == ["DecisionTaskCompleted", "ActivityTaskScheduled"]


def test_required_members_and_types_are_named_one_line_each(d: Driver) -> None:
    message = _fault("ValidationException", d, "StartWorkflowExecution", domain="d", workflowId=7,
                     workflowType={"name": "wf"}, taskPriority="high")
    assert message.startswith("3 validation errors detected: ")
    assert "Value '7' at 'workflowId' failed to satisfy constraint: Member must be a string" in message
    assert "Value null at 'workflowType.version' failed to satisfy constraint: Member must not be null" in message
    assert "Value 'high' at 'taskPriority' failed to satisfy constraint: Member must be an integer" in message
    assert _fault("ValidationException", d, "StartWorkflowExecution", domain="d", workflowId="w", workflowType=WF,
                  tagList=list("abcdef")) == (
        "1 validation error detected: Value '[a, b, c, d, e, f]' at 'tagList' failed to satisfy constraint: "
        "Member must have length less than or equal to 5")
    assert _fault("ValidationException", d, "ListDomains", registrationStatus="REGISTERED", maximumPageSize=-1) == (
        "1 validation error detected: Value '-1' at 'maximumPageSize' failed to satisfy constraint: "
        "Member must have value greater than or equal to 0")


# --- engine fixes

@pytest.mark.parametrize("policy", ["TERMINATE", "REQUEST_CANCEL", "ABANDON"])
def test_a_child_keeps_its_parent_once_the_parent_closes(d: Driver, policy: str) -> None:
    parent = {"workflowId": "p", "runId": d.start("p")}
    d.decide(decision("StartChildWorkflowExecution", workflowId="c", workflowType=WF, childPolicy="ABANDON"))
    d("TerminateWorkflowExecution", domain="d", workflowId="p", childPolicy=policy)
    child = d.attrs("p", "ChildWorkflowExecutionStarted")["workflowExecution"]
    info = d("DescribeWorkflowExecution", domain="d", execution=child)["executionInfo"]
    assert info["parent"] == parent
    listing = "ListClosedWorkflowExecutions" if policy == "TERMINATE" else "ListOpenWorkflowExecutions"
    infos = d(listing, domain="d", startTimeFilter={"oldestDate": 0}, executionFilter={"workflowId": "c"})
    assert [i["parent"] for i in infos["executionInfos"]] == [parent]


def test_operator_terminate_records_its_cause(d: Driver) -> None:
    d.start()
    d("TerminateWorkflowExecution", domain="d", workflowId="w1", reason="stop")
    assert d.attrs("w1", "WorkflowExecutionTerminated") == {"reason": "stop", "childPolicy": "TERMINATE",
                                                            "cause": "OPERATOR_INITIATED"}


def test_unknown_resources_read_as_swf_words(d: Driver) -> None:
    assert _fault("UnknownResourceFault", d, "SignalWorkflowExecution", domain="d", workflowId="nope",
                  signalName="s") == "Unknown execution: WorkflowExecution=[workflowId=nope]"
    assert _fault("UnknownResourceFault", d, "DescribeWorkflowExecution", domain="d",
                  execution={"workflowId": "nope", "runId": "r1"}) == (
        "Unknown execution: WorkflowExecution=[workflowId=nope, runId=r1]")
    assert _fault("UnknownResourceFault", d, "StartWorkflowExecution", domain="d", workflowId="w",
                  workflowType={"name": "no", "version": "1"}) == (
        "Unknown type: WorkflowType=[name=no, version=1]")
    assert _fault("UnknownResourceFault", d, "DescribeActivityType", domain="d",
                  activityType={"name": "no", "version": "2"}) == "Unknown type: ActivityType=[name=no, version=2]"


def test_fields_as_real_swf_records_them(d: Driver) -> None:
    """Where SWF's recorded histories differ from its documentation, the engine follows the histories."""
    run = d.start()
    assert d.attrs("w1", "WorkflowExecutionStarted")["parentInitiatedEventId"] == 0
    d("SignalWorkflowExecution", domain="d", workflowId="w1", signalName="s")
    assert d.attrs("w1", "WorkflowExecutionSignaled") == {"signalName": "s", "externalInitiatedEventId": 0}
    d("RequestCancelWorkflowExecution", domain="d", workflowId="w1")
    assert d.attrs("w1", "WorkflowExecutionCancelRequested") == {"externalInitiatedEventId": 0}
    execution = {"workflowId": "w1", "runId": run}
    assert d("DescribeWorkflowExecution", domain="d", execution=execution)["executionInfo"]["cancelRequested"]
    d.decide(decision("CancelWorkflowExecution", details="bye"))
    info = d("DescribeWorkflowExecution", domain="d", execution=execution)["executionInfo"]
    assert (info["closeStatus"], info["cancelRequested"]) == ("CANCELED", False)
