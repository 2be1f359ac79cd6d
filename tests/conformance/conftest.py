"""Two SWF backends for the conformance suite: a real `pipeflow server` and a moto server.

Both are session-scoped subprocesses; each test gets a boto3 client and a fresh
domain of its own, so tests never see each other's state. A case where moto
departs from SWF is marked with `backends(moto=...)`: a strict xfail, so a moto
release that fixes it turns the case red and the mark can go.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from pipeflow.engine._model import service_model
from tests._support.shapes import check_shape
from tests._support.servers import moto_server, pipeflow_server

BACKENDS = ("pipeflow", "moto")
REGION = "us-east-1"
WORKFLOW = {"name": "wf", "version": "1"}
ACTIVITY = {"name": "act", "version": "1"}
TASK_LIST = {"name": "main"}


def backends(*, moto: str | None = None, moto_skip: str | None = None,
             pipeflow: str | None = None) -> list[Any]:
    """Parameters for `backend`: each departure from SWF as a strict xfail (or a skip) with its reason."""
    params = []
    for name, xfail in (("pipeflow", pipeflow), ("moto", moto)):
        marks: list[Any] = []
        if xfail is not None:
            marks.append(pytest.mark.xfail(strict=True, reason=f"{name}: {xfail}"))
        if name == "moto" and moto_skip is not None:
            marks.append(pytest.mark.skip(reason=f"moto: {moto_skip}"))
        params.append(pytest.param(name, marks=marks, id=name))
    return params


@pytest.fixture(scope="session")
def _pipeflow_session_url() -> Iterator[str]:
    with pipeflow_server() as url:
        yield url


@pytest.fixture(scope="session")
def _moto_fast_url() -> Iterator[str]:
    # moto never long-polls; an empty poll returns at once instead of after its usual second
    with moto_server(empty_poll_delay=0) as url:
        yield url


@dataclass
class Backend:
    """A boto3 SWF client on one backend, a fresh domain, and the steps tests are made of."""

    name: str
    swf: Any
    domain: str = field(default_factory=lambda: f"conf-{uuid.uuid4().hex[:10]}")

    def fault(self, code: str, call: str, **params: Any) -> ClientError:
        """Make a call that must fail with SWF's fault ``code``; the error."""
        with pytest.raises(ClientError) as info:
            getattr(self.swf, call)(**params)
        assert info.value.response["Error"]["Code"] == code, info.value.response["Error"]
        return info.value

    def register_domain(self, **extra: Any) -> None:
        self.swf.register_domain(name=self.domain, workflowExecutionRetentionPeriodInDays="1", **extra)

    def setup(self, **workflow_defaults: Any) -> None:
        """The domain with the workflow type `WORKFLOW` and activity type `ACTIVITY`, both with full defaults."""
        self.register_domain()
        defaults = {"defaultTaskList": TASK_LIST, "defaultChildPolicy": "TERMINATE",
                    "defaultExecutionStartToCloseTimeout": "300", "defaultTaskStartToCloseTimeout": "60"}
        self.swf.register_workflow_type(domain=self.domain, **WORKFLOW, **{**defaults, **workflow_defaults})
        self.swf.register_activity_type(
            domain=self.domain, **ACTIVITY, defaultTaskList=TASK_LIST, defaultTaskScheduleToStartTimeout="60",
            defaultTaskScheduleToCloseTimeout="120", defaultTaskStartToCloseTimeout="60",
            defaultTaskHeartbeatTimeout="60")

    def start(self, workflow_id: str = "w1", **extra: Any) -> dict[str, str]:
        run = self.swf.start_workflow_execution(domain=self.domain, workflowId=workflow_id, workflowType=WORKFLOW,
                                                input="in", **extra)
        return {"workflowId": workflow_id, "runId": run["runId"]}

    def _poll(self, call: str, task_list: dict[str, str], identity: str) -> dict[str, Any]:
        # pipeflow long-polls (call only when a task is due or about to be: an empty poll
        # holds for a minute); this moto answers an empty poll at once, so ask again a while
        for _ in range(1 if self.name == "pipeflow" else 150):
            task: dict[str, Any] = getattr(self.swf, call)(domain=self.domain, taskList=task_list,
                                                           identity=identity)
            if task.get("taskToken"):
                return task
            time.sleep(0.02)
        raise AssertionError(f"{call}: no task on {task_list['name']}")

    def poll_decision(self, task_list: dict[str, str] = TASK_LIST) -> dict[str, Any]:
        return self._poll("poll_for_decision_task", task_list, "decider")

    def poll_activity(self, task_list: dict[str, str] = TASK_LIST) -> dict[str, Any]:
        return self._poll("poll_for_activity_task", task_list, "worker")

    def decide(self, task: dict[str, Any], *decisions: dict[str, Any]) -> None:
        self.swf.respond_decision_task_completed(taskToken=task["taskToken"], decisions=list(decisions))

    def activity_task(self, workflow_id: str = "w1") -> tuple[dict[str, str], dict[str, Any]]:
        """Start a run, schedule one activity, and take its task."""
        run = self.start(workflow_id)
        self.decide(self.poll_decision(), schedule("a1"))
        return run, self.poll_activity()

    def history(self, run: dict[str, str]) -> list[dict[str, Any]]:
        page = self.swf.get_workflow_execution_history(domain=self.domain, execution=run)
        return list(page["events"])

    def domain_arn(self) -> str:
        return str(self.swf.describe_domain(name=self.domain)["domainInfo"]["arn"])


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    """A client on the backend named by the parameter (use `backends()` to mark moto's departures)."""
    name = request.param
    fixture = "_pipeflow_session_url" if name == "pipeflow" else "_moto_fast_url"
    url = request.getfixturevalue(fixture)
    config = Config(retries={"total_max_attempts": 1}, read_timeout=75, connect_timeout=5)
    return Backend(name, boto3.client("swf", endpoint_url=url, region_name=REGION, config=config))


def schedule(activity_id: str, **attrs: Any) -> dict[str, Any]:
    return {"decisionType": "ScheduleActivityTask",
            "scheduleActivityTaskDecisionAttributes": {"activityType": ACTIVITY, "activityId": activity_id,
                                                       "input": "x", **attrs}}


def complete(result: str = "done") -> dict[str, Any]:
    return {"decisionType": "CompleteWorkflowExecution",
            "completeWorkflowExecutionDecisionAttributes": {"result": result}}


def check_output(operation: str, response: dict[str, Any]) -> None:
    """``response`` has every member SWF always sends, with the model's types (botocore's output shape)."""
    shape = service_model().operation_model(operation).output_shape
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    if shape is None:
        assert body == {}, f"{operation} answers nothing, got {body}"
        return
    check_shape(body, shape, operation)


ARN = re.compile(r"arn:aws:swf:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):/domain/(?P<name>.+)")
