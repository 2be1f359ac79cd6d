"""The pure state machine, driven without threads at an explicit clock."""

from __future__ import annotations

import pytest

from pipeflow.engine import Limits, SWFFault

from ._driver import ACT, WF, Driver, decision, schedule


@pytest.fixture()
def d() -> Driver:
    drv = Driver()
    drv.setup()
    return drv


def _fault(code: str, fn: object, *args: object, **kwargs: object) -> SWFFault:
    with pytest.raises(SWFFault) as info:
        fn(*args, **kwargs)  # type: ignore[operator]
    assert info.value.code == code, info.value
    return info.value


def test_activity_round_trip(d: Driver) -> None:
    d.start(input="in")
    d.decide(schedule("a1", input="x"))
    task = d("PollForActivityTask", domain="d", taskList={"name": "at"}, identity="me")
    assert task["activityId"] == "a1" and task["input"] == "x"
    assert d("PollForActivityTask", domain="d", taskList={"name": "at"}) == {}  # delivered once
    d("RespondActivityTaskCompleted", taskToken=task["taskToken"], result="r")
    _fault("UnknownResourceFault", d, "RespondActivityTaskCompleted", taskToken=task["taskToken"])
    polled = d.decide(decision("CompleteWorkflowExecution", result="done"))
    assert polled["previousStartedEventId"] == 3
    assert d.types() == [
        "WorkflowExecutionStarted", "DecisionTaskScheduled", "DecisionTaskStarted", "DecisionTaskCompleted",
        "ActivityTaskScheduled", "ActivityTaskStarted", "ActivityTaskCompleted", "DecisionTaskScheduled",
        "DecisionTaskStarted", "DecisionTaskCompleted", "WorkflowExecutionCompleted",
    ]
    assert d.attrs("w1", "ActivityTaskCompleted") == {"result": "r", "scheduledEventId": 5, "startedEventId": 6}


def test_registry_faults(d: Driver) -> None:
    _fault("DomainAlreadyExistsFault", d, "RegisterDomain", name="d", workflowExecutionRetentionPeriodInDays="1")
    _fault("TypeAlreadyExistsFault", d, "RegisterActivityType", domain="d", name="act", version="1")
    _fault("UnknownResourceFault", d, "DescribeWorkflowType", domain="d", workflowType={"name": "x", "version": "1"})
    described = d("DescribeActivityType", domain="d", activityType=ACT)
    assert described["configuration"]["defaultTaskList"] == {"name": "at"}
    d("DeprecateWorkflowType", domain="d", workflowType=WF)
    _fault("TypeDeprecatedFault", d.start)
    listed = d("ListWorkflowTypes", domain="d", registrationStatus="DEPRECATED")
    assert [t["workflowType"] for t in listed["typeInfos"]] == [WF]


def test_start_faults(d: Driver) -> None:
    d.start()
    _fault("WorkflowExecutionAlreadyStartedFault", d.start)
    d("RegisterWorkflowType", domain="d", name="bare", version="1")
    _fault("DefaultUndefinedFault", d, "StartWorkflowExecution", domain="d", workflowId="w2",
           workflowType={"name": "bare", "version": "1"})
    _fault("UnknownResourceFault", d, "SignalWorkflowExecution", domain="d", workflowId="nope", signalName="s")


@pytest.mark.parametrize("bad", ["a:b", "a/b", "a|b", "arn", "a\x01", " lead", "x" * 257])
def test_workflow_id_rules(d: Driver, bad: str) -> None:
    _fault("ValidationException", d.start, bad)


def test_field_limit(d: Driver) -> None:
    _fault("ValidationException", d.start, input="x" * 32_769)
    d.start(input="x" * 32_768)


def test_missing_required_param_is_validation_error(d: Driver) -> None:
    _fault("ValidationException", d, "StartWorkflowExecution", domain="d", workflowId="w")


def test_invalid_decisions_record_failed_events(d: Driver) -> None:
    d.start()
    d.decide(
        schedule("a1"),
        schedule("a1"),
        {"decisionType": "ScheduleActivityTask", "scheduleActivityTaskDecisionAttributes": {
            "activityType": {"name": "nope", "version": "1"}, "activityId": "a2"}},
        decision("CancelTimer", timerId="t"),
        decision("RequestCancelActivityTask", activityId="zz"),
    )
    causes = [(e["eventType"], next(v for k, v in e.items() if k.endswith("Attributes")).get("cause"))
              for e in d.state.runs[next(iter(d.state.runs))].events[4:]]
    assert causes == [
        ("ActivityTaskScheduled", None),
        ("ScheduleActivityTaskFailed", "ACTIVITY_ID_ALREADY_IN_USE"),
        ("ScheduleActivityTaskFailed", "ACTIVITY_TYPE_DOES_NOT_EXIST"),
        ("CancelTimerFailed", "TIMER_ID_UNKNOWN"),
        ("RequestCancelActivityTaskFailed", "ACTIVITY_ID_UNKNOWN"),
        ("DecisionTaskScheduled", None),
    ]


def test_malformed_decision_list_applies_nothing(d: Driver) -> None:
    d.start()
    task = d("PollForDecisionTask", domain="d", taskList={"name": "dt"})
    before = d.types()
    for bad in (
        [schedule("a1"), {"decisionType": "StartTimer"}],
        [decision("CompleteWorkflowExecution"), schedule("a1")],
        [schedule("a1", input="x" * 40_000)],
    ):
        _fault("ValidationException", d, "RespondDecisionTaskCompleted", taskToken=task["taskToken"], decisions=bad)
    assert d.types() == before
    d("RespondDecisionTaskCompleted", taskToken=task["taskToken"], decisions=[schedule("a1")])
    assert d.types()[-1] == "ActivityTaskScheduled"


def test_open_activity_limit() -> None:
    d = Driver(Limits(max_open_activities=2))
    d.setup()
    d.start()
    d.decide(schedule("a1"), schedule("a2"), schedule("a3"))
    assert d.attrs("w1", "ScheduleActivityTaskFailed")["cause"] == "OPEN_ACTIVITIES_LIMIT_EXCEEDED"


def test_event_limit_terminates() -> None:
    d = Driver(Limits(max_events=12))
    d.setup()
    d.start()
    for i in range(5):
        d("SignalWorkflowExecution", domain="d", workflowId="w1", signalName=f"s{i}")
    d.decide(decision("RecordMarker", markerName="m"))
    for i in range(5):
        try:
            d("SignalWorkflowExecution", domain="d", workflowId="w1", signalName=f"t{i}")
        except SWFFault:
            break
    assert d.types()[-1] == "WorkflowExecutionTerminated"
    assert d.attrs("w1", "WorkflowExecutionTerminated")["cause"] == "EVENT_LIMIT_EXCEEDED"
    assert len(d.types()) <= 12


def test_signal_during_decision_makes_close_unhandled(d: Driver) -> None:
    d.start()
    task = d("PollForDecisionTask", domain="d", taskList={"name": "dt"})
    d("SignalWorkflowExecution", domain="d", workflowId="w1", signalName="go", input="1")
    d("RespondDecisionTaskCompleted", taskToken=task["taskToken"],
      decisions=[decision("CompleteWorkflowExecution")])
    assert d.types()[-3:] == ["DecisionTaskCompleted", "CompleteWorkflowExecutionFailed", "DecisionTaskScheduled"]
    polled = d.decide(decision("CompleteWorkflowExecution"))
    assert "WorkflowExecutionSignaled" in [e["eventType"] for e in polled["events"]]
    assert d.types()[-1] == "WorkflowExecutionCompleted"


def test_timer_fires_and_cancels(d: Driver) -> None:
    d.start()
    d.decide(decision("StartTimer", timerId="t1", startToFireTimeout="5"),
             decision("StartTimer", timerId="t2", startToFireTimeout="50"),
             decision("StartTimer", timerId="t1", startToFireTimeout="5"))
    assert d.attrs("w1", "StartTimerFailed")["cause"] == "TIMER_ID_ALREADY_IN_USE"
    d.decide(decision("CancelTimer", timerId="t2"))  # the decision task after the failure
    d.tick(4.9)
    assert "TimerFired" not in d.types()
    d.tick(0.2)
    assert d.attrs("w1", "TimerFired")["timerId"] == "t1"
    d.tick(100)
    assert d.types().count("TimerFired") == 1 and "TimerCanceled" in d.types()


def test_heartbeat_cancel_request_and_canceled(d: Driver) -> None:
    d.start()
    d.decide(schedule("a1"), schedule("a2"))
    task = d("PollForActivityTask", domain="d", taskList={"name": "at"})
    assert d("RecordActivityTaskHeartbeat", taskToken=task["taskToken"]) == {"cancelRequested": False}
    t = d("PollForDecisionTask", domain="d", taskList={"name": "dt"})
    assert "taskToken" not in t  # nothing happened that needs a decision
    d("SignalWorkflowExecution", domain="d", workflowId="w1", signalName="cancel")
    d.decide(decision("RequestCancelActivityTask", activityId="a1"),
             decision("RequestCancelActivityTask", activityId="a2"))
    # a2 was never started: SWF cancels it at once
    canceled = d.attrs("w1", "ActivityTaskCanceled")
    assert canceled["startedEventId"] == 0
    assert d("RecordActivityTaskHeartbeat", taskToken=task["taskToken"]) == {"cancelRequested": True}
    d("RespondActivityTaskCanceled", taskToken=task["taskToken"], details="undone")
    last = d.attrs("w1", "ActivityTaskCanceled")
    assert last["details"] == "undone" and last["latestCancelRequestedEventId"] > 0


def test_history_paging(d: Driver) -> None:
    run = d.start()
    for i in range(7):
        d("SignalWorkflowExecution", domain="d", workflowId="w1", signalName=f"s{i}")
    execution = {"workflowId": "w1", "runId": run}
    for reverse in (False, True):
        ids: list[int] = []
        token = None
        while True:
            extra = {"nextPageToken": token} if token else {}
            page = d("GetWorkflowExecutionHistory", domain="d", execution=execution, maximumPageSize=3,
                     reverseOrder=reverse, **extra)
            assert len(page["events"]) <= 3
            ids += [e["eventId"] for e in page["events"]]
            token = page.get("nextPageToken")
            if not token:
                break
            assert isinstance(token, str)
        assert ids == (sorted(ids, reverse=reverse)) and len(ids) == 9


def test_decision_task_paging(d: Driver) -> None:
    d.start()
    for i in range(4):
        d("SignalWorkflowExecution", domain="d", workflowId="w1", signalName=f"s{i}")
    first = d("PollForDecisionTask", domain="d", taskList={"name": "dt"}, maximumPageSize=4)
    events = list(first["events"])
    token = first.get("nextPageToken")
    while token:
        page = d("PollForDecisionTask", domain="d", taskList={"name": "dt"}, maximumPageSize=4, nextPageToken=token)
        assert page["taskToken"] == first["taskToken"]
        events += page["events"]
        token = page.get("nextPageToken")
    assert [e["eventId"] for e in events] == list(range(1, first["startedEventId"] + 1))


def test_list_and_count_filters(d: Driver) -> None:
    d.start("a", tagList=["red"])
    d.tick(10)
    d.start("b")
    d("TerminateWorkflowExecution", domain="d", workflowId="b", reason="stop")
    oldest = {"oldestDate": 0}
    listed = d("ListOpenWorkflowExecutions", domain="d", startTimeFilter=oldest)
    assert [i["execution"]["workflowId"] for i in listed["executionInfos"]] == ["a"]
    assert d("ListOpenWorkflowExecutions", domain="d", startTimeFilter=oldest, tagFilter={"tag": "blue"})["executionInfos"] == []
    closed = d("ListClosedWorkflowExecutions", domain="d", startTimeFilter=oldest,
               closeStatusFilter={"status": "TERMINATED"})
    assert [i["execution"]["workflowId"] for i in closed["executionInfos"]] == ["b"]
    assert d("CountClosedWorkflowExecutions", domain="d", startTimeFilter=oldest,
             closeStatusFilter={"status": "COMPLETED"})["count"] == 0
    assert d("CountOpenWorkflowExecutions", domain="d", startTimeFilter=oldest,
             typeFilter={"name": "wf"})["count"] == 1
    _fault("ValidationException", d, "ListOpenWorkflowExecutions", domain="d", startTimeFilter=oldest,
           tagFilter={"tag": "red"}, executionFilter={"workflowId": "a"})
    recent = d("ListOpenWorkflowExecutions", domain="d", startTimeFilter={"oldestDate": d.now - 5})
    assert recent["executionInfos"] == []
    pages = d("ListClosedWorkflowExecutions", domain="d", closeTimeFilter=oldest, maximumPageSize=1)
    assert len(pages["executionInfos"]) == 1 and "nextPageToken" not in pages


def test_request_cancel_and_cancel_workflow(d: Driver) -> None:
    run = d.start()
    d.decide()
    d("RequestCancelWorkflowExecution", domain="d", workflowId="w1")
    described = d("DescribeWorkflowExecution", domain="d", execution={"workflowId": "w1", "runId": run})
    assert described["executionInfo"]["cancelRequested"] is True
    d.decide(decision("CancelWorkflowExecution", details="bye"))
    closed = d("DescribeWorkflowExecution", domain="d", execution={"workflowId": "w1", "runId": described["executionInfo"]["execution"]["runId"]})
    assert closed["executionInfo"]["closeStatus"] == "CANCELED"


def test_one_decision_task_at_a_time(d: Driver) -> None:
    d.start()
    task = d("PollForDecisionTask", domain="d", taskList={"name": "dt"})
    d("SignalWorkflowExecution", domain="d", workflowId="w1", signalName="s")
    assert "taskToken" not in d("PollForDecisionTask", domain="d", taskList={"name": "dt"})
    d("RespondDecisionTaskCompleted", taskToken=task["taskToken"], decisions=[])
    assert d.types()[-2:] == ["DecisionTaskCompleted", "DecisionTaskScheduled"]
    assert "taskToken" in d("PollForDecisionTask", domain="d", taskList={"name": "dt"})


def test_domains(d: Driver) -> None:
    d("RegisterDomain", name="old", workflowExecutionRetentionPeriodInDays="3", description="x")
    d("DeprecateDomain", name="old")
    _fault("DomainDeprecatedFault", d, "DeprecateDomain", name="old")
    _fault("DomainDeprecatedFault", d, "RegisterWorkflowType", domain="old", name="w", version="1")
    assert [i["name"] for i in d("ListDomains", registrationStatus="DEPRECATED")["domainInfos"]] == ["old"]
    described = d("DescribeDomain", name="old")
    assert described["configuration"] == {"workflowExecutionRetentionPeriodInDays": "3"}
    d("UndeprecateDomain", name="old")
    assert d("DescribeDomain", name="old")["domainInfo"]["status"] == "REGISTERED"


def test_unknown_tokens(d: Driver) -> None:
    for op in ("RespondDecisionTaskCompleted", "RespondActivityTaskCompleted", "RecordActivityTaskHeartbeat"):
        _fault("UnknownResourceFault", d, op, taskToken="nope")


@pytest.mark.parametrize(("name", "value"), [("startToFireTimeout", "NONE"), ("startToFireTimeout", "1.5"),
                                             ("startToFireTimeout", "soon")])
def test_bad_durations_are_refused_before_anything_applies(d: Driver, name: str, value: str) -> None:
    d.start()
    task = d("PollForDecisionTask", domain="d", taskList={"name": "dt"})
    before = d.types()
    _fault("ValidationException", d, "RespondDecisionTaskCompleted", taskToken=task["taskToken"],
           decisions=[decision("RecordMarker", markerName="m"), decision("StartTimer", timerId="t", **{name: value})])
    assert d.types() == before


def test_higher_task_priority_is_handed_out_first(d: Driver) -> None:
    d.start()
    d.decide(schedule("low"), schedule("high", taskPriority="10"), schedule("neg", taskPriority="-5"),
             schedule("high2", taskPriority="10"))
    order = [d("PollForActivityTask", domain="d", taskList={"name": "at"})["activityId"] for _ in range(4)]
    assert order == ["high", "high2", "low", "neg"]
