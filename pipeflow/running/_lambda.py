"""The IAM role SWF needs to invoke a run's Lambda steps (`lambdaRole` on StartWorkflowExecution).

Amazon SWF invokes a Lambda step's function with the role its execution was started with; a
pipeline with Lambda steps started there without one would fail each of them at once
(StartLambdaFunctionFailed, ASSUME_ROLE_FAILED), so it is refused before it starts. Other SWF
endpoints (`pipeflow server`, the embedded engine) run the registered Python function as a
local stand-in and need no role.
"""

from __future__ import annotations

from typing import Any

from .._errors import PipelineError
from ..canvas import iter_tasks

__all__ = ["check_lambda_role", "lambda_steps"]


def lambda_steps(definition: Any) -> list[str]:
    """The Lambda functions a pipeline's steps call, each once, in order."""
    names: list[str] = []
    for task in iter_tasks(definition.canvas):
        if task.lambda_function and task.lambda_function not in names:
            names.append(task.lambda_function)
    return names


def on_amazon(swf: Any) -> bool:
    """True when the client talks to Amazon SWF itself (not `pipeflow server` or the embedded engine)."""
    url = str(getattr(getattr(swf, "meta", None), "endpoint_url", "") or "")
    return ".amazonaws.com" in url


def check_lambda_role(swf: Any, definition: Any, lambda_role: str | None) -> dict[str, str]:
    """`{"lambdaRole": ...}` for StartWorkflowExecution (or nothing); PipelineError for Lambda steps without a role on Amazon."""
    if lambda_role:
        return {"lambdaRole": lambda_role}
    functions = lambda_steps(definition)
    if functions and on_amazon(swf):
        shown = ", ".join(functions[:3]) + (", ..." if len(functions) > 3 else "")
        raise PipelineError(
            f"pipeline {definition.name} has Lambda steps ({shown}), which Amazon SWF invokes with an IAM role: "
            "start it with --lambda-role ARN (or PIPEFLOW_LAMBDA_ROLE), a role SWF may assume that can invoke them"
        )
    return {}
