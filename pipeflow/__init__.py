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
from ._pipeline import Pipeline
from .canvas import chain, group, map, repeat, stage, wait_signal
from .client import Client, Run
from .running import run
from .task import (  # the module `pipeflow.task` stays importable by name
    Signature,
    Task,
    task,
)
from .worker import heartbeat, progress

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
    "repeat",
    "run",
    "stage",
    "wait_signal",
]
