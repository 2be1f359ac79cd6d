"""bench/pipelines/shape.py for simpleflow 0.36: a chain of 100 `inc` from 0 beside a group of 100 `inc` summed.

Runs under an interpreter with simpleflow installed (a venv of its own, outside
pipeflow's dependencies); bench/swf.py drives it, with this folder on PYTHONPATH
so simpleflow's workers import the activities as `simpleflow_shape.inc`:

    python simpleflow_shape.py --domain D --endpoint-url URL decider
    python simpleflow_shape.py --domain D --endpoint-url URL worker --processes 4
    python simpleflow_shape.py --domain D --endpoint-url URL start    # prints "<workflowId> <runId> 100,5050"

`start` starts one execution (simpleflow's `workflow.start`) and waits for it to close.

simpleflow names an activity `<name>-<n>`, n counting submissions of that name in
the order the workflow code submits them; on replay the chain has advanced, so a
chain and a group of the same activity trade ids and results (with a single `inc`,
`NaiveShape`, the run gives [99, 9594], not [100, 5050]). `Shape` gives the chain
an activity of its own name, `inc_chain`, which makes the ids stable: that is the
run timed. `start --naive` runs `NaiveShape`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from simpleflow import Workflow, activity, futures  # type: ignore[import-not-found]
from simpleflow.canvas import Chain, Group  # type: ignore[import-not-found]
from simpleflow.task import ActivityTask  # type: ignore[import-not-found]

DECISIONS = "shape-sf-decisions"
ACTIVITIES = "shape-sf-activities"
# Explicit timeouts: moto breaks on "NONE" and enforces none of them anyway.
TIMEOUTS: dict[str, Any] = dict(start_to_close_timeout=300, schedule_to_close_timeout=600,
                                schedule_to_start_timeout=600, heartbeat_timeout=300)


@activity.with_attributes(task_list=ACTIVITIES, version="1", raises_on_failure=True, **TIMEOUTS)  # type: ignore[misc]
def inc(x: int) -> int:
    return x + 1


@activity.with_attributes(task_list=ACTIVITIES, version="1", raises_on_failure=True, **TIMEOUTS)  # type: ignore[misc]
def inc_chain(x: int) -> int:
    return x + 1


@activity.with_attributes(task_list=ACTIVITIES, version="1", raises_on_failure=True, **TIMEOUTS)  # type: ignore[misc]
def total(values: list[int]) -> int:
    return sum(values)


class Shape(Workflow):  # type: ignore[misc]
    name = "shape-sf"
    version = "1"
    task_list = DECISIONS
    decision_tasks_timeout = "300"
    execution_timeout = "3600"
    chain_step = inc_chain

    def run(self) -> list[int]:
        step = type(self).chain_step
        chain = self.submit(Chain(ActivityTask(step, 0), *[ActivityTask(step) for _ in range(99)], send_result=True))
        group = self.submit(Group(*[ActivityTask(inc, i) for i in range(100)]))
        futures.wait(chain, group)
        summed = self.submit(total, list(group.result))
        futures.wait(summed)
        return [chain.result[-1], summed.result]


class NaiveShape(Shape):
    """The same with one `inc` for the chain and the group: simpleflow mixes up their ids."""

    name = "shape-sf-naive"
    chain_step = inc


def _simpleflow(*args: str) -> None:
    from simpleflow.command import cli  # type: ignore[import-not-found]

    cli.main(args=list(args), prog_name="simpleflow")


def _start(domain: str, endpoint_url: str, workflow: str) -> None:
    import boto3  # type: ignore[import-not-found]

    from simpleflow.command import start_workflow  # type: ignore[import-not-found]

    execution = start_workflow.callback(
        workflow=f"simpleflow_shape.{workflow}", domain=domain, workflow_id=None, task_list=None, execution_timeout=None,
        tags=None, decision_tasks_timeout=None, input=None, input_file=None, local=False,
        middleware_pre_execution=None, middleware_post_execution=None,
    )
    swf = boto3.client("swf", endpoint_url=endpoint_url, region_name="us-east-1")
    ids = {"workflowId": execution.workflow_id, "runId": execution.run_id}
    while swf.describe_workflow_execution(domain=domain, execution=ids)["executionInfo"]["executionStatus"] == "OPEN":
        time.sleep(0.02)
    last = swf.get_workflow_execution_history(domain=domain, execution=ids, reverseOrder=True,
                                              maximumPageSize=1)["events"][0]
    if last["eventType"] != "WorkflowExecutionCompleted":
        sys.exit(f"simpleflow run did not complete: {last}")
    result = json.loads(last["workflowExecutionCompletedEventAttributes"]["result"])
    print(ids["workflowId"], ids["runId"], ",".join(str(v) for v in result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--domain", required=True)
    parser.add_argument("--endpoint-url", required=True)
    parser.add_argument("role", choices=["decider", "worker", "start"])
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--naive", action="store_true", help="start: run NaiveShape (one activity name)")
    args = parser.parse_args()
    # simpleflow's boto3 clients take the endpoint from boto3's standard variable.
    os.environ["AWS_ENDPOINT_URL_SWF"] = args.endpoint_url
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    if args.role == "decider":
        _simpleflow("decider.start", "--domain", args.domain, "--task-list", DECISIONS, "--nb-processes", "1",
                    "simpleflow_shape.Shape", "simpleflow_shape.NaiveShape")
    elif args.role == "worker":
        _simpleflow("worker.start", "--domain", args.domain, "--task-list", ACTIVITIES,
                    "--nb-processes", str(args.processes))
    else:
        _start(args.domain, args.endpoint_url, "NaiveShape" if args.naive else "Shape")


if __name__ == "__main__":
    main()
