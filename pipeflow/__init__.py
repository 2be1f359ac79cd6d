"""pipeflow: data pipelines on Amazon SWF, and on one machine with no setup."""

from __future__ import annotations

from ._errors import (
    EngineError,
    PipeflowError,
    PipelineError,
    PipelineLoadError,
    RunCanceled,
    RunFailed,
    RunTerminated,
    RunTimedOut,
    TaskFailed,
    WorkerError,
)
from ._client import Client, Run
from ._pipeline import Pipeline
from ._run import run
from .canvas import chain, group, map, stage, wait_signal
from .task import Signature, Task, task  # the module `pipeflow.task` stays importable by name
from .worker._context import heartbeat, progress

__version__ = "0.1.0"

__all__ = [
    "EngineError",
    "PipeflowError",
    "PipelineError",
    "PipelineLoadError",
    "RunCanceled",
    "RunFailed",
    "RunTerminated",
    "RunTimedOut",
    "TaskFailed",
    "WorkerError",
    "__version__",
    "Client",
    "Pipeline",
    "Run",
    "Signature",
    "Task",
    "chain",
    "group",
    "heartbeat",
    "map",
    "task",
    "progress",
    "run",
    "stage",
    "wait_signal",
]
