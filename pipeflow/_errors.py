"""The exceptions pipeflow raises, all under one root.

PipeflowError
├── converters.ConverterError          (values that cannot cross SWF)
│   ├── converters.EncodeError         (a value the codec cannot represent)
│   ├── converters.DecodeError         (unknown codec/version, corrupt payload)
│   ├── converters.IntegrityError      (an offloaded object whose checksum differs)
│   ├── converters.PayloadTooLarge     (over the field limit and no store given)
│   └── converters.StoreError          (a store that cannot be read or written)
├── PipelineError                      (the user's pipeline definition is wrong)
│   └── PipelineLoadError              (a pipeline file that cannot be loaded)
├── EngineError                        (the SWF engine or service refused a call)
│   ├── engine.SWFFault                (the embedded engine's answer: .code is SWF's fault code)
│   └── engine.StoreDamaged            (an engine state file that fails its checks at open)
├── TaskFailed                         (a step failed for good; carries its context)
├── RunFailed                          (a run closed without a result)
│   ├── RunCanceled
│   ├── RunTerminated
│   └── RunTimedOut
└── WorkerError                        (a worker cannot run what it was handed)

Each class keeps the offending values as attributes so callers need not parse
messages.
"""

from __future__ import annotations

# The root lives in converters, the lowest layer, which imports nothing of pipeflow.
from converters._errors import PipeflowError

__all__ = [
    "EngineError",
    "PipelineError",
    "PipelineLoadError",
    "PipeflowError",
    "RunCanceled",
    "RunFailed",
    "RunTerminated",
    "RunTimedOut",
    "TaskFailed",
    "WorkerError",
]



class PipelineError(PipeflowError):
    """The pipeline definition is wrong (bad canvas, bad task options)."""


class PipelineLoadError(PipelineError):
    """A pipeline file cannot be loaded: missing, broken, or without the attribute."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class EngineError(PipeflowError):
    """The SWF engine (embedded or Amazon's) refused a call."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class WorkerError(PipeflowError):
    """A worker cannot run the activity it was handed."""


class TaskFailed(PipeflowError):
    """A step failed for good, after its retries."""

    def __init__(
        self,
        message: str,
        *,
        task: str | None = None,
        step: str | None = None,
        attempt: int | None = None,
        error_type: str | None = None,
        remote_traceback: str | None = None,
        run_id: str | None = None,
        stage: str | None = None,
        stage_attempt: int | None = None,
        stage_name: str | None = None,
        data: bool = False,
        workflow_id: str | None = None,
        log_tail: str | None = None,
        log: str | None = None,
    ) -> None:
        super().__init__(message)
        self.task = task
        self.step = step
        self.attempt = attempt
        self.stage = stage  # the path of the stage (child execution) the step failed in, if any
        self.stage_attempt = stage_attempt
        self.stage_name = stage_name
        self.error_type = error_type
        self.remote_traceback = remote_traceback
        self.run_id = run_id
        self.workflow_id = workflow_id
        self.data = data  # pipeflow could not encode or decode a value of the step (exit 3), not the task's own error
        self.log_tail = log_tail  # the last lines the failed attempt printed or logged
        self.log = log  # where the attempt's whole log is (`pipeflow logs` reads it)

    def __str__(self) -> str:
        where = []
        if self.step is not None:
            where.append(f"step {self.step}")
        if self.task is not None:
            where.append(f"task {self.task}")
        if self.attempt is not None:
            where.append(f"attempt {self.attempt}")
        if self.stage is not None and self.stage != self.step:
            named = f" {self.stage_name!r}" if self.stage_name else ""
            tries = f" (attempt {self.stage_attempt})" if self.stage_attempt is not None else ""
            where.append(f"in stage{named} at step {self.stage}{tries}")
        head = ", ".join(where)
        kind = f"{self.error_type}: " if self.error_type else ""
        text = f"{kind}{self.args[0] if self.args else ''}"
        return f"{head}: {text}" if head else text


class RunFailed(PipeflowError):
    """A run closed without a result."""

    def __init__(self, message: str, *, run_id: str | None = None, status: str | None = None,
                 workflow_id: str | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.workflow_id = workflow_id
        self.status = status


class RunCanceled(RunFailed):
    """The run was canceled."""


class RunTerminated(RunFailed):
    """The run was terminated from outside."""


class RunTimedOut(RunFailed):
    """The run exceeded its execution timeout."""
