"""ScheduleLambdaFunction on the embedded engine: a stand-in task on the run's task list, Lambda events recorded."""

from __future__ import annotations

from pipeflow.engine import LAMBDA_VERSION, Engine
from pipeflow.engine._model import service_model
from tests._support.shapes import check_shape

from ._driver import Driver, decision


def lam(function_id: str, **extra: str) -> dict[str, object]:
    return decision("ScheduleLambdaFunction", id=function_id, name="resize", **extra)


def started(d: Driver) -> None:
    d.setup()
    d.start("w1")
    d.decide(lam("l1", input='{"x":1}', control="c"), lam("l2", startToCloseTimeout="5"), lam("l3"),
             lam("l1"))  # an id in use


def test_a_lambda_function_is_a_stand_in_task_on_the_runs_task_list() -> None:
    d = Driver()
    started(d)
    assert d.types()[4:] == ["LambdaFunctionScheduled", "LambdaFunctionScheduled", "LambdaFunctionScheduled",
                             "ScheduleLambdaFunctionFailed", "DecisionTaskScheduled"]
    assert d.attrs("w1", "ScheduleLambdaFunctionFailed")["cause"] == "ID_ALREADY_IN_USE"
    run_id = next(iter(d.state.runs))
    counts = d("DescribeWorkflowExecution", domain="d", execution={"workflowId": "w1", "runId": run_id})["openCounts"]
    assert (counts["openLambdaFunctions"], counts["openActivityTasks"]) == (3, 0)
    assert d("PollForActivityTask", domain="d", taskList={"name": "at"}) == {}  # not on an activity list
    task = d("PollForActivityTask", domain="d", taskList={"name": "dt"}, identity="w")
    assert (task["activityId"], task["activityType"], task["input"]) == ("l1", {"name": "resize", "version": LAMBDA_VERSION},
                                                                        '{"x":1}')
    assert d.attrs("w1", "LambdaFunctionStarted") == {"scheduledEventId": 5}  # l1's LambdaFunctionScheduled
    started_id = d.types().index("LambdaFunctionStarted") + 1
    assert d("RecordActivityTaskHeartbeat", taskToken=task["taskToken"])["cancelRequested"] is False
    d("RespondActivityTaskCompleted", taskToken=task["taskToken"], result='"json/1:2"')
    done = d.attrs("w1", "LambdaFunctionCompleted")
    assert done == {"scheduledEventId": 5, "startedEventId": started_id, "result": '"json/1:2"'}
    second = d("PollForActivityTask", domain="d", taskList={"name": "dt"})
    d("RespondActivityTaskFailed", taskToken=second["taskToken"], reason="boom", details="tb")
    assert d.attrs("w1", "LambdaFunctionFailed")["reason"] == "boom"
    d("PollForActivityTask", domain="d", taskList={"name": "dt"})  # l3: its default timeout is SWF's 900 s
    d.tick(899)
    assert "LambdaFunctionTimedOut" not in d.types()
    d.tick(2)
    assert d.attrs("w1", "LambdaFunctionTimedOut")["timeoutType"] == "START_TO_CLOSE"
    shape = service_model().shape_for("HistoryEvent")
    for event in d.state.runs[next(iter(d.state.runs))].events:
        check_shape(event, shape, event["eventType"])
    assert not any(kind.startswith("ActivityTask") for kind in d.types())


def test_lambda_events_trigger_decision_tasks() -> None:
    d = Driver()
    started(d)
    d.decide()  # the ScheduleLambdaFunctionFailed
    task = d("PollForActivityTask", domain="d", taskList={"name": "dt"})
    d("RespondActivityTaskCompleted", taskToken=task["taskToken"])
    assert d.types()[-1] == "DecisionTaskScheduled"


def test_an_open_stand_in_survives_a_reopened_state(tmp_path: object) -> None:
    db = f"{tmp_path}/state.sqlite"
    with Engine(db) as engine:
        swf = engine.client()
        swf.register_domain(name="d", workflowExecutionRetentionPeriodInDays="1")
        swf.register_workflow_type(domain="d", name="wf", version="1", defaultTaskList={"name": "dt"},
                                   defaultExecutionStartToCloseTimeout="60", defaultTaskStartToCloseTimeout="30",
                                   defaultChildPolicy="TERMINATE")
        swf.start_workflow_execution(domain="d", workflowId="w1", workflowType={"name": "wf", "version": "1"})
        task = swf.poll_for_decision_task(domain="d", taskList={"name": "dt"})
        swf.respond_decision_task_completed(taskToken=task["taskToken"], decisions=[lam("l1", input="{}")])
    with Engine(db) as engine:
        task = engine.client().poll_for_activity_task(domain="d", taskList={"name": "dt"})
        assert task["activityType"]["version"] == LAMBDA_VERSION
