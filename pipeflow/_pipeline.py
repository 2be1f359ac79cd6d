"""`Pipeline`: a canvas with the name and version of its SWF workflow type (registered and started by `pipeflow.running`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from ._errors import PipelineError
from .canvas import Canvas, Chain, Group, Map, Repeat, Stage, Step, chain, children, iter_tasks
from .task import Signature, Task, check_swf_name

__all__ = ["Pipeline", "as_pipeline"]



@dataclass(frozen=True, eq=False, init=False)
class Pipeline:
    """A canvas with the name and version of its SWF workflow type."""

    canvas: Chain
    name: str
    version: str
    input_converter: Any
    timeout: int | None
    task_list: str
    # Appended to the task lists tasks name (`task_list=`) by `pipeflow.running.own_task_list`: an
    # embedded run (or a notebook's session) works only its own tasks, on every list it uses.
    list_suffix: str = ""

    def __init__(
        self,
        canvas: Step,
        name: str | None = None,
        version: str = "1",
        input_converter: Any = None,
        timeout: int | None = None,
        task_list: str | None = None,
    ) -> None:
        if isinstance(canvas, Pipeline):
            canvas = canvas.canvas
        if not isinstance(canvas, (Canvas, Task, Signature)):
            raise PipelineError(f"Pipeline() needs a task or a canvas, got {canvas!r}")
        # The root is always a chain so that every step has a non-empty path.
        root = canvas if isinstance(canvas, Chain) else chain(canvas)
        _check_repeats(root)
        name = check_swf_name(name or default_pipeline_name(root, None), "the pipeline name",
                              "pass Pipeline(..., name=...)")
        check_swf_name(version, f"pipeline {name}: the version", "pass Pipeline(..., version='2')")
        if task_list is not None:
            check_swf_name(task_list, f"pipeline {name}: the task list", "pass another Pipeline(..., task_list=...)")
        object.__setattr__(self, "canvas", root)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "version", str(version))
        object.__setattr__(self, "input_converter", input_converter)
        object.__setattr__(self, "timeout", timeout)
        object.__setattr__(self, "task_list", task_list or name)

    def __repr__(self) -> str:
        return f"<Pipeline {self.name} v{self.version}>"

    def activity_list(self, task: Task) -> str:
        """The task list `task`'s activities are scheduled on in this pipeline's runs."""
        if task.task_list is None:
            return self.task_list
        return task.task_list[:256 - len(self.list_suffix)] + self.list_suffix


def _shape(step: object) -> str:
    if isinstance(step, Signature):
        return f"{step.task.name}.{'si' if step.immutable else 's'}"
    if isinstance(step, Task):
        return step.name
    inner = ",".join(_shape(c) for c in children(step))  # type: ignore[arg-type]
    if isinstance(step, Group):
        return f"group({inner})"
    if isinstance(step, Map):
        return f"map({inner})"
    if isinstance(step, Stage):
        return f"stage({inner})"
    if isinstance(step, Repeat):
        return f"repeat({inner})"
    return f"chain({inner})"


def _check_repeats(root: Chain) -> None:
    """A `repeat()` continues the whole execution as new: it must be the pipeline's only top-level step."""
    top = root.steps[0] if len(root.steps) == 1 and isinstance(root.steps[0], Repeat) else None
    stack: list[object] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, Repeat) and node is not top:
            raise PipelineError("repeat() must be the whole pipeline (it continues the execution as new): "
                                "write Pipeline(pf.repeat(...)), and put the steps around it inside the repeated "
                                "canvas or in a pipeline of their own")
        stack.extend(children(node))  # type: ignore[arg-type]


def default_pipeline_name(canvas: Step, attr: str | None) -> str:
    """`<file stem of the first task>.<attr>`, or a hash of the canvas shape without an attribute."""
    first = next(iter_tasks(canvas), None)
    stem = first.name.rsplit(".", 1)[0] if first is not None and "." in first.name else "pipeline"
    if attr is None:
        attr = "pipeline-" + hashlib.sha256(_shape(canvas).encode()).hexdigest()[:10]
    return f"{stem}.{attr}"


def as_pipeline(obj: object, attr: str | None = None) -> Pipeline:
    """A Pipeline as is; a canvas, task or signature wrapped and named after its file and `attr`."""
    if isinstance(obj, Pipeline):
        return obj
    if isinstance(obj, (Canvas, Task, Signature)):
        return Pipeline(obj, name=default_pipeline_name(obj, attr))
    raise PipelineError(f"not a pipeline, canvas or task: {obj!r}")
