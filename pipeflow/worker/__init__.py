"""The worker: runs the activity tasks of the pipelines it was started with, in a process pool."""

from __future__ import annotations

from ._context import heartbeat, progress
from ._lambda import LambdaTaskFailed, lambda_handler
from ._pool import Job, Pool
from ._registry import LAMBDA_VERSION, Registry, TaskRef
from ._worker import Worker

__all__ = ["LAMBDA_VERSION", "Job", "LambdaTaskFailed", "Pool", "Registry", "TaskRef", "Worker", "heartbeat",
           "lambda_handler", "progress"]
