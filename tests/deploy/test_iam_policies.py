"""The IAM policies of deploy/iam/ against the AWS calls each role really makes.

Every process of a small fleet runs with tests/deploy/recorder on PYTHONPATH, whose
sitecustomize writes down each botocore call (and each decision a decider sends: decisions
are IAM actions too): a `pipeflow decider` process, a `pipeflow worker` process, the
submitter's commands (run --no-wait, signal, cancel, runs, status, result, logs, resume
--no-wait, gc) and `pipeflow fleet-metrics`. The runs offload their values to S3 (moto) and
cover a success, a failure retried after a timer, heartbeats, a signal, a cancel reaching a
running task, a resume and a gc. Per role, the recorded calls mapped to IAM actions must be
exactly the policy's actions: none missing, none unused. The decisions a policy allows are
the decision types the decider's code can send (found in its source); those sent here must
be among them.

SWF is a `pipeflow server`: moto answers RequestCancelWorkflowExecution,
CountOpenWorkflowExecutions and StartChildWorkflowExecution with HTTP 500, so a run on moto
could not show the whole set (see docs/deploy/fleet.md).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
IAM = ROOT / "deploy" / "iam"
RECORDER = Path(__file__).parent / "recorder"
BUCKET, PREFIX = "pipeflow-iam", "runs"

# S3 API operations -> the IAM action that allows each (multipart uploads are s3:PutObject).
S3_ACTIONS = {
    "PutObject": "s3:PutObject", "CreateMultipartUpload": "s3:PutObject", "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject", "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "GetObject": "s3:GetObject", "HeadObject": "s3:GetObject",
    "ListObjectsV2": "s3:ListBucket", "ListObjects": "s3:ListBucket", "HeadBucket": "s3:ListBucket",
    "DeleteObject": "s3:DeleteObject", "DeleteObjects": "s3:DeleteObject",
}

PIPELINES = """
import time

import pipeflow as pf


@pf.task
def first(text):
    print("got", len(text))  # the attempt's log goes to the store
    return "a" * 20000  # inline in the history (as is the next): their checkpoints together are offloaded


@pf.task
def second(text):
    return "b" * 20000


@pf.task(heartbeat=2)
def size(text):
    time.sleep(1.5)  # long enough for heartbeats
    return {"length": len(text), "pad": "y" * 50000}  # past the inline limit: offloaded to S3


pipeline = pf.Pipeline(pf.chain(first, second, size), name="iam", version="1", task_list="iam")
# a result of two inline values, too long together: the decider offloads it
both = pf.Pipeline(pf.group(first, second), name="iam-both", version="1", task_list="iam")


@pf.task(retries=1, retry_delay=0.5)
def flaky(marker):
    import os
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("first attempt fails")
    return "second attempt"


retried = pf.Pipeline(flaky, name="iam-retried", version="1", task_list="iam")


@pf.task
def greet(name):
    return f"hello {name}"


waiting = pf.Pipeline(pf.chain(pf.wait_signal("go"), greet), name="iam-waiting", version="1", task_list="iam")


@pf.task(heartbeat=2)
def nap(started):
    open(started, "w").close()
    time.sleep(60)


sleepy = pf.Pipeline(nap, name="iam-sleepy", version="1", task_list="iam")


@pf.task(lambda_function="iam-shout")
def shout(text):  # on Amazon SWF the function iam-shout; on pipeflow server this body, as its stand-in
    return text.upper()


lambdas = pf.Pipeline(shout, name="iam-lambdas", version="1", task_list="iam")
"""


# every pipeline of the file decides and works on one task list: one decider loop, one worker pool
TARGETS = [f"pipes.py:{name}" for name in ("pipeline", "both", "retried", "waiting", "sleepy", "lambdas")]
LAMBDA_ROLE = "arn:aws:iam::123456789012:role/pipeflow-lambda"


class Fleet:
    """A domain on one SWF endpoint, S3 on moto, and per role a file of the calls made."""

    def __init__(self, swf_url: str, s3_url: str, tmp: Path) -> None:
        self.tmp, self.swf_url = tmp, swf_url
        self.domain = f"iam-{uuid.uuid4().hex[:10]}"
        self.store = f"s3://{BUCKET}/{PREFIX}"
        self.env = {**os.environ, "AWS_ENDPOINT_URL_SWF": swf_url, "AWS_ENDPOINT_URL_S3": s3_url,
                    "PYTHONPATH": os.pathsep.join([str(RECORDER), str(ROOT)]),
                    "PIPEFLOW_STORE": self.store}  # every command's store: the runs' values and logs are there
        self.procs: list[subprocess.Popen[bytes]] = []
        import boto3

        self.swf = boto3.client("swf", endpoint_url=swf_url, region_name="us-east-1")  # not recorded

    def calls(self, role: str) -> Path:
        return self.tmp / f"{role}.calls"

    def _env(self, role: str) -> dict[str, str]:
        return {**self.env, "PIPEFLOW_TEST_AWS_CALLS": str(self.calls(role))}

    def serve(self, kind: str) -> None:
        extra = ["--processes", "3", "--grace", "1"] if kind == "worker" else []
        with (self.tmp / f"{kind}.log").open("wb") as log:
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "pipeflow", kind, *TARGETS, "--domain", self.domain, "--store", self.store,
                 *extra],
                cwd=self.tmp, env=self._env(kind), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                start_new_session=True,
            ))

    def command(self, role: str, *args: str) -> str:
        return self.commands(role, [list(args)])[0]

    def commands(self, role: str, argvs: list[list[str]]) -> list[str]:
        """`pipeflow ARGS` for each of `argvs`, at once (they are independent); their outputs."""
        procs = [subprocess.Popen([sys.executable, "-m", "pipeflow", *args], cwd=self.tmp, env=self._env(role),
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for args in argvs]
        outputs = []
        for args, proc in zip(argvs, procs):
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, f"pipeflow {' '.join(args)}: {err}\n{self.logs()}"
            outputs.append(out)
        return outputs

    def submit(self, *runs: tuple[str, Any]) -> list[str]:
        """Start runs of these (pipeline, input) with `run --no-wait` (Lambda steps with a role); their run ids."""
        return [out.strip() for out in self.commands("submitter", [
            ["run", f"pipes.py:{target}", "--input", json.dumps(value), "--backend", "swf", "--domain", self.domain,
             "--no-wait", *(["--lambda-role", LAMBDA_ROLE] if target == "lambdas" else [])] for target, value in runs])]

    def swf_args(self) -> list[str]:
        return ["--backend", "swf", "--domain", self.domain]

    def closed(self, run_id: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            infos = self.swf.list_closed_workflow_executions(
                domain=self.domain, startTimeFilter={"oldestDate": 0})["executionInfos"]
            found = [i for i in infos if i["execution"]["runId"] == run_id]
            if found:
                return str(found[0]["closeStatus"])
            time.sleep(0.2)
        opened = self.swf.list_open_workflow_executions(domain=self.domain, startTimeFilter={"oldestDate": 0})
        execution = next(i["execution"] for i in opened["executionInfos"] if i["execution"]["runId"] == run_id)
        events = self.swf.get_workflow_execution_history(domain=self.domain, execution=execution)["events"]
        raise AssertionError(f"run {run_id} did not close within {timeout:.0f}s: {[e['eventType'] for e in events]}"
                             f"\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}:\n{p.read_text(errors='replace')[-3000:]}"
                         for p in [*self.tmp.glob("*.log"), *self.tmp.glob("*.calls")])

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def recorded(path: Path) -> tuple[set[str], set[str]]:
    """(IAM actions of the API calls, decisions) written down in `path`."""
    calls, decisions = set(), set()
    for line in path.read_text().splitlines() if path.exists() else []:
        kind, name = line.split(" ", 1)
        service, operation = name.split(":", 1)
        if kind == "decision":
            decisions.add(name)
        else:
            calls.add(S3_ACTIONS[operation] if service == "s3" else name)
    return calls, decisions


def policy_actions(role: str) -> set[str]:
    doc = json.loads((IAM / f"{role}.json").read_text())
    actions: set[str] = set()
    for statement in doc["Statement"]:
        assert statement["Effect"] == "Allow"
        listed = statement["Action"]
        actions.update([listed] if isinstance(listed, str) else listed)
    return actions


def code_decisions() -> set[str]:
    """The decision types the decider's source can send."""
    found = set()
    for path in (ROOT / "pipeflow" / "decider").glob("*.py"):
        found.update(re.findall(r'"decisionType": "([A-Za-z]+)"', path.read_text()))
    return {f"swf:{name}" for name in found}


# Seen or not depending on timing: a worker answers RespondActivityTaskCanceled only when a heartbeat
# hears of the cancel before the run closes (the decider closes it in the same decision that asks).
RACY = {"worker": {"swf:RespondActivityTaskCanceled"}}


def test_each_role_makes_exactly_the_calls_its_policy_allows(moto_url: str, pipeflow_url: str, tmp_path: Path) -> None:
    import boto3

    boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    (tmp_path / "pipes.py").write_text(PIPELINES)
    fleet = Fleet(pipeflow_url, moto_url, tmp_path)
    # the domain exists before the fleet starts (an administrator's step): no poller waits for it
    fleet.swf.register_domain(name=fleet.domain, workflowExecutionRetentionPeriodInDays="1")
    try:
        fleet.serve("decider")
        fleet.serve("worker")
        first, retried, pair, gated, sleepy, shouted = fleet.submit(
            ("pipeline", "x" * 100_000),  # the input is offloaded by the submitter
            ("retried", str(tmp_path / "marker")), ("both", "x"), ("waiting", None),
            ("sleepy", str(tmp_path / "started")), ("lambdas", "hey"),
        )
        fleet.command("submitter", "signal", gated, "go", "--input", '"you"', *fleet.swf_args())
        assert fleet.closed(first) == "COMPLETED"
        assert fleet.closed(retried) == "COMPLETED"
        assert fleet.closed(pair) == "COMPLETED"
        assert fleet.closed(gated, 10) == "COMPLETED"
        assert fleet.closed(shouted) == "COMPLETED"
        deadline = time.monotonic() + 30
        while not (tmp_path / "started").exists():  # the task runs: the cancel must reach it
            assert time.monotonic() < deadline, fleet.logs()
            time.sleep(0.1)
        fleet.command("submitter", "cancel", sleepy, *fleet.swf_args())
        assert fleet.closed(sleepy) == "CANCELED"
        *_, result, again = fleet.commands("submitter", [
            ["runs", *fleet.swf_args()], ["status", first, *fleet.swf_args()], ["logs", first, *fleet.swf_args()],
            ["result", first, "--json", *fleet.swf_args()],
            ["resume", "pipes.py:pipeline", first, "--from", "2", "--no-wait", *fleet.swf_args()],
        ])
        assert json.loads(result)["result"]["length"] == 20_000
        assert fleet.closed(again.strip()) == "COMPLETED"
        time.sleep(1.1)
        # gc; and two open runs of which fleet-metrics reads one: the total comes from CountOpenWorkflowExecutions
        open_run = ["run", "pipes.py:waiting", "--backend", "swf", "--domain", fleet.domain, "--no-wait"]
        fleet.commands("submitter", [["gc", "--older-than", "1s", *fleet.swf_args()], open_run, open_run])
        fleet.command("metrics", "fleet-metrics", "--domain", fleet.domain, "--max-executions", "1", "--json")
    finally:
        fleet.stop()

    vocabulary = code_decisions()
    for role in ("decider", "worker", "submitter", "metrics"):
        calls, decisions = recorded(fleet.calls(role))
        allowed = policy_actions(role)
        allowed_calls = allowed - vocabulary
        assert calls - allowed_calls == set(), f"{role}: calls its policy lacks"
        assert allowed_calls - calls - RACY.get(role, set()) == set(), f"{role}: policy actions never used"
        if role == "decider":
            assert allowed & vocabulary == vocabulary, "the decider may send every decision its code can send"
            assert decisions <= vocabulary and {
                "swf:ScheduleActivityTask", "swf:StartTimer", "swf:CompleteWorkflowExecution",
                "swf:CancelWorkflowExecution", "swf:RequestCancelActivityTask", "swf:RecordMarker"} <= decisions
        else:
            assert allowed & vocabulary == set() and decisions == set()


def test_the_policies_are_scoped_to_the_domain_and_the_bucket() -> None:
    for role in ("decider", "worker", "submitter", "metrics"):
        for statement in json.loads((IAM / f"{role}.json").read_text())["Statement"]:
            services = {action.split(":")[0] for action in statement["Action"]}
            assert len(services) == 1 and "*" not in "".join(statement["Action"]), statement
            if services == {"swf"}:
                assert statement["Resource"] == "arn:aws:swf:${Region}:${Account}:/domain/${Domain}"
            elif services == {"iam"}:  # the one role runs are given for their Lambda steps, by the submitter only
                assert role == "submitter" and statement["Action"] == ["iam:PassRole"]
                assert statement["Resource"] == "arn:aws:iam::${Account}:role/${LambdaRole}"
            elif statement["Action"] == ["s3:ListBucket"]:
                assert statement["Resource"] == "arn:aws:s3:::${Bucket}"
                assert statement["Condition"] == {"StringLike": {"s3:prefix": ["${Prefix}", "${Prefix}/*"]}}
            else:
                assert statement["Resource"] == "arn:aws:s3:::${Bucket}/${Prefix}/*"
