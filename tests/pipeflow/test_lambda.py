"""Lambda steps: the decisions over constructed histories, and runs on the embedded engine's stand-in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import converters
import pytest

import pipeflow as pf
from pipeflow import wire
from pipeflow._pipeline import Pipeline
from pipeflow.decider import Decider
from pipeflow.decider._lambda import lambda_decision
from pipeflow.running._progress import StepCounts
from pipeflow.engine import LAMBDA_VERSION as ENGINE_LAMBDA_VERSION
from pipeflow._errors import WorkerError
from pipeflow.worker import LAMBDA_VERSION, LambdaTaskFailed, Registry, lambda_handler
from tests.pipeflow.decider._history import History, kinds


@pf.task
def double(x: int) -> int:
    return x * 2


@pf.task(lambda_function="add-ten", retries=2, retry_delay=0)
def add_ten(x: int) -> int:
    return x + 10


@pf.task(lambda_function="split", timeout=30)
def split(x: int) -> list[int]:
    return [x, x + 1]


@pf.task(lambda_function="flaky", retries=1, retry_delay=0)
def flaky(x: int, marker: str) -> int:
    """Fails its first attempt (it leaves a marker file), then passes its input on."""
    path = Path(marker)
    if not path.exists():
        path.write_text("failed once")
        raise RuntimeError("the first attempt fails")
    return x


class LambdaHistory(History):
    """History plus what SWF records for Lambda functions."""

    def decided(self, decisions: list[dict[str, Any]]) -> None:
        super().decided(decisions)
        for d in decisions:
            if d["decisionType"] == "ScheduleLambdaFunction":
                a = d["scheduleLambdaFunctionDecisionAttributes"]
                self.ids[a["id"]] = self.add("LambdaFunctionScheduled", decisionTaskCompletedEventId=1, **a)

    def lambda_event(self, kind: str, function_id: str, **attrs: Any) -> None:
        self.add("LambdaFunctionStarted", scheduledEventId=self.ids[function_id])
        self.add(kind, scheduledEventId=self.ids[function_id], startedEventId=len(self.events), **attrs)
        self.add("DecisionTaskScheduled")


def lambdas(decisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d["scheduleLambdaFunctionDecisionAttributes"] for d in decisions
            if d["decisionType"] == "ScheduleLambdaFunction"]


def test_a_lambda_step_is_scheduled_with_schedule_lambda_function_and_its_result_read_back() -> None:
    pipeline = Pipeline(pf.chain(double, add_ten, split), name="t")
    history = LambdaHistory(pipeline, 1)
    decider = Decider([pipeline])
    history.decided(decider.decide(history.task()))
    history.completed("0#1", 2)
    history.decided(step1 := decider.decide(history.task()))
    [attrs] = lambdas(step1)
    assert (attrs["id"], attrs["name"], attrs["startToCloseTimeout"]) == ("1#1", "add-ten", "300")
    doc = json.loads(attrs["input"])  # JSON, as Lambda takes it: the activity input document
    assert (doc["step"], doc["attempt"], doc["task"], doc["piped"]) == ("1", 1, add_ten.name, "json/1:2")
    # A function written with lambda_handler returns the envelope as a JSON string.
    history.lambda_event("LambdaFunctionCompleted", "1#1", result=json.dumps("json/1:12"))
    history.decided(step2 := decider.decide(history.task()))
    [attrs] = lambdas(step2)
    assert (attrs["id"], attrs["name"], attrs["startToCloseTimeout"]) == ("2#1", "split", "30")
    history.lambda_event("LambdaFunctionCompleted", "2#1", result="json/1:[12,13]")  # the stand-in's: as is
    done = decider.decide(history.task())
    assert kinds(done) == ["CompleteWorkflowExecution"]
    assert converters.loads(done[-1]["completeWorkflowExecutionDecisionAttributes"]["result"]) == [12, 13]


def test_failed_and_timed_out_lambda_attempts_are_retried_then_fail_the_run() -> None:
    pipeline = Pipeline(add_ten, name="t")  # retries=2, no delay
    history = LambdaHistory(pipeline, 1)
    decider = Decider([pipeline])
    history.decided(decider.decide(history.task()))
    reason, details = wire.encode_failure(ValueError("bad input"), activity_id="0#1")
    history.lambda_event("LambdaFunctionFailed", "0#1", reason=reason, details=details)
    history.decided(second := decider.decide(history.task()))
    assert [a["id"] for a in lambdas(second)] == ["0#2"]
    history.lambda_event("LambdaFunctionTimedOut", "0#2", timeoutType="START_TO_CLOSE")
    history.decided(third := decider.decide(history.task()))
    assert [a["id"] for a in lambdas(third)] == ["0#3"]
    # What AWS Lambda records for a function that raised: its own error document.
    lambda_error = {"errorType": "KeyError", "errorMessage": "'size'", "stackTrace": ["  File \"h.py\"\n"]}
    history.lambda_event("LambdaFunctionFailed", "0#3", reason="UnhandledError", details=json.dumps(lambda_error))
    [fail] = decider.decide(history.task())
    assert fail["decisionType"] == "FailWorkflowExecution"
    attrs = fail["failWorkflowExecutionDecisionAttributes"]
    assert attrs["reason"] == f"step 0 task {add_ten.name}: KeyError: 'size'"
    assert json.loads(attrs["details"])["attempt"] == 3


def test_a_handed_back_stand_in_spends_no_retry() -> None:
    pipeline = Pipeline(split, name="t")  # retries=0
    history = LambdaHistory(pipeline, 1)
    decider = Decider([pipeline])
    history.decided(decider.decide(history.task()))
    reason, details = wire.encode_handback("host:1", "it never started")
    history.lambda_event("LambdaFunctionFailed", "0#1", reason=reason, details=details)
    assert [a["id"] for a in lambdas(decider.decide(history.task()))] == ["0#2"]


@pytest.mark.parametrize(("cause", "fails"), [
    ("OPEN_LAMBDA_FUNCTIONS_LIMIT_EXCEEDED", False),
    ("LAMBDA_SERVICE_NOT_AVAILABLE_IN_REGION", True),
])
def test_schedule_lambda_function_failed(cause: str, fails: bool) -> None:
    pipeline = Pipeline(split, name="t")
    history = LambdaHistory(pipeline, 1)
    decider = Decider([pipeline])
    decider.decide(history.task())
    history.add("DecisionTaskCompleted")
    history.add("ScheduleLambdaFunctionFailed", id="0#1", name="split", cause=cause, decisionTaskCompletedEventId=5)
    history.add("DecisionTaskScheduled")
    again = decider.decide(history.task())
    if fails:
        assert kinds(again) == ["FailWorkflowExecution"]
        assert cause in again[-1]["failWorkflowExecutionDecisionAttributes"]["reason"]
    else:
        assert [a["id"] for a in lambdas(again)] == ["0#1"]  # still ready: asked again


def test_start_lambda_function_failed_spends_an_attempt() -> None:
    pipeline = Pipeline(add_ten, name="t")
    history = LambdaHistory(pipeline, 1)
    decider = Decider([pipeline])
    history.decided(decider.decide(history.task()))
    history.add("StartLambdaFunctionFailed", scheduledEventId=history.ids["0#1"], cause="ASSUME_ROLE_FAILED",
                message="no role")
    history.add("DecisionTaskScheduled")
    assert [a["id"] for a in lambdas(decider.decide(history.task()))] == ["0#2"]


def test_an_offloaded_input_travels_as_a_json_string(tmp_path: Path) -> None:
    store = str(tmp_path)
    pipeline = Pipeline(split, name="t")
    history = LambdaHistory(pipeline, None)
    history.events[0]["workflowExecutionStartedEventAttributes"]["input"] = wire.encode_workflow_input(
        "x" * 40_000, store)
    [attrs] = lambdas(Decider([pipeline], store=store).decide(history.task()))
    assert len(attrs["input"]) <= 32_768  # SWF's FunctionInput limit
    assert converters.is_reference(json.loads(attrs["input"])["piped"])  # the large value offloaded, by reference
    # An input offloaded as a whole (a reference, not JSON) is sent as a JSON string, which Lambda accepts.
    leaf = SimpleNamespace(task=split, activity_id="0#1")
    whole = lambda_decision(leaf, "ref/1:x")["scheduleLambdaFunctionDecisionAttributes"]  # type: ignore[arg-type]
    assert json.loads(whole["input"]) == "ref/1:x"


def test_the_worker_and_engine_agree_on_the_stand_in_version_and_register_it() -> None:
    assert LAMBDA_VERSION == ENGINE_LAMBDA_VERSION
    registry = Registry.from_tasks([double, add_ten])
    assert registry.get("add-ten", LAMBDA_VERSION) is add_ten
    assert registry.get(add_ten.name, "1") is add_ten
    assert "Lambda function add-ten (stand-in)" in registry.describe()
    again = Registry.from_refs(registry.refs())
    assert again.get("add-ten", LAMBDA_VERSION) is add_ten


@pytest.mark.parametrize(("options", "message"), [
    ({"lambda_function": "x" * 65}, "1-64 characters"),
    ({"lambda_function": "f", "timeout": 901}, "at most 900 seconds"),
    ({"lambda_function": "f", "task_list": "other"}, "has no task list"),
])
def test_a_bad_lambda_option_is_named_with_the_fix(options: dict[str, Any], message: str) -> None:
    with pytest.raises(pf.PipelineError, match=message):
        pf.task(**options)(double.fn)


def test_a_pipeline_with_lambda_steps_runs_on_the_embedded_engine(tmp_path: Path) -> None:
    with pf.Client(state_dir=None, store=str(tmp_path)) as client:
        marker = str(tmp_path / "flaky.marker")
        run = client.submit(pf.chain(double, flaky.s(marker), add_ten, split, pf.map(add_ten)), 1)
        assert run.result() == [22, 23]
        events = run.events()
        tasks = run.tasks()
    assert list(zip(tasks["step"], tasks["task"], tasks["attempt"], tasks["status"])) == [
        ("0", double.name, 1, "COMPLETED"), ("1", "flaky", 1, "FAILED"), ("1", "flaky", 2, "COMPLETED"),
        ("2", "add-ten", 1, "COMPLETED"), ("3", "split", 1, "COMPLETED"),
        ("4.map.0", "add-ten", 1, "COMPLETED"), ("4.map.1", "add-ten", 1, "COMPLETED")]
    counts = StepCounts()
    for event in events:
        counts.add(event)
    assert (counts.steps(), counts.failed) == ((6, 7), 1)  # the progress line counts Lambda steps as steps
    kinds_seen = {e["eventType"] for e in events}
    assert {"LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionCompleted"} <= kinds_seen
    scheduled = [e["lambdaFunctionScheduledEventAttributes"] for e in events if e["eventType"] == "LambdaFunctionScheduled"]
    assert sorted(a["id"] for a in scheduled) == ["1#1", "1#2", "2#1", "3#1", "4.map.0#1", "4.map.1#1"]
    failed = [e["lambdaFunctionFailedEventAttributes"] for e in events if e["eventType"] == "LambdaFunctionFailed"]
    assert [f["reason"] for f in failed] == ["RuntimeError: the first attempt fails"]
    assert [e["activityTaskScheduledEventAttributes"]["activityId"] for e in events
            if e["eventType"] == "ActivityTaskScheduled"] == ["0#1"]  # only `double` is an activity


@pf.task(lambda_function="count-items")
def count_items(items: list[int]) -> int:
    return len(items)


def test_a_lambda_step_whose_input_is_offloaded_whole_runs_on_the_embedded_engine(tmp_path: Path) -> None:
    """3,000 piped results make an input past SWF's field: it crosses as a JSON string holding its reference."""
    with pf.Client(state_dir=None, store=str(tmp_path)) as client:
        run = client.submit(pf.chain(pf.map(double), count_items), list(range(3000)))
        assert run.result() == 3000
        scheduled = [e["lambdaFunctionScheduledEventAttributes"] for e in run.events()
                     if e["eventType"] == "LambdaFunctionScheduled"]
    assert converters.is_reference(json.loads(scheduled[0]["input"]))  # offloaded whole, as a JSON string


def test_lambda_handler_answers_what_the_decider_reads_back() -> None:
    """The round trip of a Lambda step on Amazon: decision input -> handler -> LambdaFunctionCompleted/Failed."""
    pipeline = Pipeline(pf.chain(add_ten, split), name="t")
    history = LambdaHistory(pipeline, 1)
    decider = Decider([pipeline])
    history.decided(first := decider.decide(history.task()))
    event = json.loads(lambdas(first)[0]["input"])  # what Lambda hands the function
    returned = lambda_handler(add_ten)(event, None)
    history.lambda_event("LambdaFunctionCompleted", "0#1", result=json.dumps(returned))  # Lambda's JSON payload
    history.decided(second := decider.decide(history.task()))
    with pytest.raises(LambdaTaskFailed) as caught:
        lambda_handler(split)(json.loads(lambdas(second)[0]["input"]) | {"piped": "json/1:\"x\""}, None)
    error = {"errorType": "LambdaTaskFailed", "errorMessage": str(caught.value), "stackTrace": []}
    history.lambda_event("LambdaFunctionFailed", "1#1", reason="UnhandledError", details=json.dumps(error))
    [fail] = decider.decide(history.task())
    reason = fail["failWorkflowExecutionDecisionAttributes"]["reason"]
    assert reason.startswith(f"step 1 task {split.name}: TypeError: can only concatenate str")
    with pytest.raises(WorkerError, match="is not a Lambda step"):
        lambda_handler(double)


def test_amazon_swf_needs_a_lambda_role_for_lambda_steps(tmp_path: Path) -> None:
    (tmp_path / "pipe.py").write_text(
        "import pipeflow as pf\n\n@pf.task(lambda_function='resize')\ndef resize(x):\n    return x\n\npipeline = resize\n")
    env = {**os.environ, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}
    for name in ("AWS_ENDPOINT_URL_SWF", "AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-m", "pipeflow", "run", "pipe.py", "--backend", "swf", "--domain", "d"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "Error: pipeline pipe.pipeline has Lambda steps (resize), which Amazon SWF invokes with an IAM role: start it "
        "with --lambda-role ARN (or PIPEFLOW_LAMBDA_ROLE), a role SWF may assume that can invoke them")


def test_every_way_to_start_on_amazon_refuses_lambda_steps_without_a_role(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL_SWF", "AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    client = pf.Client.swf("d", region="us-east-1", store=str(tmp_path))
    try:  # refused before any call: nothing here can reach Amazon
        with pytest.raises(pf.PipelineError, match="start it with --lambda-role ARN"):
            client.submit(add_ten, 1)
    finally:
        client.close()
    (tmp_path / "pipe.py").write_text(
        "import pipeflow as pf\n\n@pf.task(lambda_function='resize')\ndef resize(x):\n    return x\n\npipeline = resize\n")
    done = subprocess.run([sys.executable, "-m", "pipeflow", "run", "pipe.py", "--backend", "swf", "--domain", "d",
                           "--no-wait"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "start it with --lambda-role ARN" in done.stderr


def test_the_lambda_role_reaches_the_run_and_its_resumed_run(pipeflow_url: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    role = "arn:aws:iam::123456789012:role/swf-lambda"
    client = pf.Client(pipeflow_url, domain=f"lambda-role-{tmp_path.name}"[:200], workers=1, store=str(tmp_path))
    try:
        run = client.submit(pf.chain(double, add_ten), 1, lambda_role=role)
        assert run.result() == 12
        resumed = client.resume(run.run_id, from_step="1", pipeline=pf.chain(double, add_ten))
        assert resumed.result() == 12
        for one in (run, resumed):
            described = client._swf().describe_workflow_execution(domain=client.domain, execution=one.execution)
            assert described["executionConfiguration"]["lambdaRole"] == role
    finally:
        client.close()
