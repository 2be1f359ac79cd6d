"""ScheduleLambdaFunction: pipeflow server records the Lambda events and serves a stand-in task; moto cannot."""

from __future__ import annotations

import pytest

from .conftest import TASK_LIST, Backend, backends

MOTO_NO_LAMBDA = "ScheduleLambdaFunction raises (HTTP 500) after partly applying the decision list (SWF-LIMITS.md)"


def lambda_decision(function_id: str) -> dict[str, object]:
    return {"decisionType": "ScheduleLambdaFunction",
            "scheduleLambdaFunctionDecisionAttributes": {"id": function_id, "name": "resize", "input": '{"v":1}',
                                                         "startToCloseTimeout": "60"}}


@pytest.mark.parametrize("backend", backends(moto=MOTO_NO_LAMBDA), indirect=True)
def test_schedule_lambda_function(backend: Backend) -> None:
    backend.setup()
    run = backend.start(lambdaRole="arn:aws:iam::123456789012:role/swf-lambda")
    backend.decide(backend.poll_decision(), lambda_decision("0#1"))
    scheduled = [e for e in backend.history(run) if e["eventType"] == "LambdaFunctionScheduled"]
    assert [e["lambdaFunctionScheduledEventAttributes"]["id"] for e in scheduled] == ["0#1"]
    # pipeflow server: the local stand-in, for any worker polling the run's task list.
    task = backend.poll_activity(TASK_LIST)
    assert task["activityType"]["name"] == "resize"
    backend.swf.respond_activity_task_completed(taskToken=task["taskToken"], result="json/1:2")
    kinds = [e["eventType"] for e in backend.history(run)]
    assert kinds[-3:] == ["LambdaFunctionStarted", "LambdaFunctionCompleted", "DecisionTaskScheduled"]
