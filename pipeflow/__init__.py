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
]
