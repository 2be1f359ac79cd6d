"""`lambda_handler`: a pipeflow task as the handler of the AWS Lambda function its Lambda step invokes.

On Amazon SWF a Lambda step's function gets the step's input document as its event (the same
document an activity gets, or a JSON string holding its reference when it was offloaded) and
must answer with the result envelope: what `lambda_handler(task)` does, through converters. A
task that raises makes the invocation fail with pipeflow's failure document as the error
message, which the decider reads back (step, task, attempt, remote traceback).

Deploy the pipeline file (and pipeflow) in the function's package and point the handler at it::

    # handler.py
    from pipeflow.worker import lambda_handler
    from pipe import resize
    handler = lambda_handler(resize, store="s3://bucket/pipeflow")

The embedded engine and `pipeflow server` never call this: their workers run the task itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .._errors import WorkerError
from ._execute import execute

__all__ = ["LambdaTaskFailed", "lambda_handler"]


class LambdaTaskFailed(WorkerError):
    """The task of a Lambda step failed; the message is pipeflow's failure document (JSON)."""

    def __init__(self, reason: str, details: str) -> None:
        super().__init__(details)
        self.reason = reason
        self.details = details


def lambda_handler(task: Any, *, store: str | None = None) -> Callable[[Any, Any], str]:
    """An AWS Lambda handler `(event, context) -> result envelope` running `task` as a Lambda step does.

    `store` is the function's own store root (an S3 URI): the run's store must lie under it, as a
    worker's must.
    """
    if not getattr(task, "lambda_function", None):
        raise WorkerError(f"task {getattr(task, 'name', task)!r} is not a Lambda step: give it @pf.task(lambda_function=...)")

    def handler(event: Any, context: Any) -> str:
        text = event if isinstance(event, str) else json.dumps(event)
        step = event.get("step") if isinstance(event, dict) else "?"
        attempt = event.get("attempt") if isinstance(event, dict) else "?"
        outcome = execute(task, f"{step}#{attempt}", text, store)
        if outcome[0] != "ok":
            raise LambdaTaskFailed(outcome[1], outcome[2])
        return str(outcome[1])

    return handler
