"""Every timeout, fired by the state machine at the clock the test sets."""

from __future__ import annotations

import pytest

from ._driver import Driver, decision, schedule


@pytest.fixture()
def d() -> Driver:
    drv = Driver()
    drv.setup()
    drv.start()
    return drv


@pytest.mark.parametrize(
    ("timeouts", "start", "kind"),
    [
        ({"scheduleToStartTimeout": "5"}, False, "SCHEDULE_TO_START"),
        ({"scheduleToCloseTimeout": "5"}, True, "SCHEDULE_TO_CLOSE"),
        ({"startToCloseTimeout": "5"}, True, "START_TO_CLOSE"),
        ({"heartbeatTimeout": "5"}, True, "HEARTBEAT"),
    ],
)
def test_activity_timeouts(d: Driver, timeouts: dict[str, str], start: bool, kind: str) -> None:
    d.decide(schedule("a1", **timeouts))
    token = None
    if start:
        token = d("PollForActivityTask", domain="d", taskList={"name": "at"})["taskToken"]
        d("RecordActivityTaskHeartbeat", taskToken=token, details="half")
    d.tick(4.9)
    assert "ActivityTaskTimedOut" not in d.types()
    d.tick(0.2)
    attrs = d.attrs("w1", "ActivityTaskTimedOut")
    assert attrs["timeoutType"] == kind
    assert d.types()[-1] == "DecisionTaskScheduled"
    if start:
        assert attrs["details"] == "half"
        with pytest.raises(Exception, match="UnknownResourceFault"):
            d("RespondActivityTaskCompleted", taskToken=token)
    else:  # a timed-out task is no longer handed out
        assert d("PollForActivityTask", domain="d", taskList={"name": "at"}) == {}


def test_heartbeats_keep_an_activity_alive(d: Driver) -> None:
    d.decide(schedule("a1", heartbeatTimeout="5"))
    token = d("PollForActivityTask", domain="d", taskList={"name": "at"})["taskToken"]
    for _ in range(4):
        d.tick(4)
        d("RecordActivityTaskHeartbeat", taskToken=token)
    assert "ActivityTaskTimedOut" not in d.types()
    d.tick(5.1)
    assert d.attrs("w1", "ActivityTaskTimedOut")["timeoutType"] == "HEARTBEAT"


def test_type_defaults_apply_and_none_means_never() -> None:
    d = Driver()
    d.setup(defaultTaskStartToCloseTimeout="7", defaultTaskHeartbeatTimeout="NONE")
    d.start()
    d.decide(schedule("a1"))
    assert d.attrs("w1", "ActivityTaskScheduled")["startToCloseTimeout"] == "7"
    d("PollForActivityTask", domain="d", taskList={"name": "at"})
    d.tick(1000 * 1000)  # schedule-to-close NONE: only start-to-close (7 s) fires
    assert d.types().count("ActivityTaskTimedOut") == 1


def test_missing_default_fails_the_decision() -> None:
    d = Driver()
    d("RegisterDomain", name="d", workflowExecutionRetentionPeriodInDays="1")
    d("RegisterWorkflowType", domain="d", name="wf", version="1", defaultTaskList={"name": "dt"},
      defaultExecutionStartToCloseTimeout="60", defaultTaskStartToCloseTimeout="30", defaultChildPolicy="TERMINATE")
    d("RegisterActivityType", domain="d", name="act", version="1", defaultTaskList={"name": "at"})
    d.start()
    d.decide(schedule("a1"))
    assert d.attrs("w1", "ScheduleActivityTaskFailed")["cause"] == "DEFAULT_SCHEDULE_TO_CLOSE_TIMEOUT_UNDEFINED"


def test_decision_task_timeout_reschedules(d: Driver) -> None:
    d("PollForDecisionTask", domain="d", taskList={"name": "dt"})
    d.tick(31)
    assert d.types()[-2:] == ["DecisionTaskTimedOut", "DecisionTaskScheduled"]
    assert d.attrs("w1", "DecisionTaskTimedOut")["timeoutType"] == "START_TO_CLOSE"
    d.decide(decision("CompleteWorkflowExecution"))
    assert d.types()[-1] == "WorkflowExecutionCompleted"


def test_execution_timeout_closes_with_child_policy() -> None:
    d = Driver()
    d.setup()
    d.start("p", executionStartToCloseTimeout="100")
    d.decide(decision("StartChildWorkflowExecution", workflowId="c", workflowType={"name": "wf", "version": "1"}))
    d.tick(100.5)
    assert d.attrs("p", "WorkflowExecutionTimedOut") == {"timeoutType": "START_TO_CLOSE", "childPolicy": "TERMINATE"}
    assert d.attrs("c", "WorkflowExecutionTerminated")["cause"] == "CHILD_POLICY_APPLIED"
