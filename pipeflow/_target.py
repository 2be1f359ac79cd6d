"""What a task calls: a function, a class (instantiated per call) or an instance (rebuilt from its captured state).

- A function is called as is.
- A class is instantiated with no arguments for every call, and the instance is called: state
  set up in `__init__` never leaks from one call into the next.
- An instance's state (its `__dict__`, or its `__slots__`) is captured when the task is defined,
  encoded through converters (never pickled), and every call runs on a fresh copy rebuilt from
  it: a worker process rebuilds it from the encoded state its parent captured.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

from ._errors import PipelineError

__all__ = ["MAX_LAMBDA_NAME", "MAX_LAMBDA_TIMEOUT", "call", "capture", "check_lambda", "check_target", "kind_of",
           "rebuild"]


def kind_of(target: Any) -> str:
    """"function", "class" or "instance": how a task calls its target."""
    if inspect.isclass(target):
        return "class"
    if inspect.isroutine(target) or isinstance(target, functools.partial):
        return "function"
    return "instance"


def check_target(target: Any, name: str) -> None:
    """Raise PipelineError when `target` cannot be a task's target: a class needing arguments, nothing callable."""
    kind = kind_of(target)
    if kind == "class":
        if "__call__" not in _members(target):
            raise PipelineError(
                f"task {name}: the class {target.__qualname__} has no __call__ method; a class task is "
                "instantiated per call and the instance is called: define __call__(self, ...)"
            )
        needed = _required_parameters(target)
        if needed:
            raise PipelineError(
                f"task {name}: the class {target.__qualname__} needs constructor arguments "
                f"({', '.join(needed)}); a class task is instantiated with no arguments: give them defaults, "
                f"or make an instance a task: pf.task({target.__name__}(...), name=...)"
            )
    elif kind == "instance" and not callable(target):
        raise PipelineError(f"@task needs a function, a class or a callable instance, got {target!r}")


def _members(cls: type) -> set[str]:
    return {member for klass in cls.__mro__ if klass is not object for member in vars(klass)}


def _required_parameters(cls: type) -> list[str]:
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):  # a builtin without a signature: trust it
        return []
    return [
        p.name for p in signature.parameters.values()
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def _state(instance: Any) -> dict[str, Any]:
    state = dict(getattr(instance, "__dict__", {}))
    for klass in type(instance).__mro__:
        for slot in getattr(klass, "__slots__", ()):
            if slot not in ("__dict__", "__weakref__") and hasattr(instance, slot):
                state[slot] = getattr(instance, slot)
    return state


def capture(instance: Any, name: str) -> str:
    """The instance's state, encoded through converters (the way it travels to the worker processes).

    Raises PipelineError naming the instance when its state cannot be encoded, or not read back.
    """
    import converters

    try:
        text = converters.dumps(_state(instance), what=f"the state of task {name}")
        rebuild(type(instance), text)  # what a worker will do: fail here, at definition, not there
    except (converters.ConverterError, TypeError, AttributeError) as exc:
        raise PipelineError(
            f"task {name}: the state of {type(instance).__qualname__} instance cannot be encoded "
            f"({type(exc).__name__}: {exc}); an instance task keeps only values converters encode "
            "(numbers, strings, lists, dicts, arrays, frames...): build the rest in __call__, or use a class task"
        ) from exc
    return text


def rebuild(cls: Any, captured: str) -> Any:
    """A fresh instance of `cls` with the captured state, without calling its constructor."""
    import converters

    state = converters.loads(captured)
    if not isinstance(state, dict):
        raise converters.DecodeError(f"the captured state of a {cls.__qualname__} is not a dict")
    instance = cls.__new__(cls)
    for key, value in state.items():
        object.__setattr__(instance, key, value)
    return instance


def call(target: Any, captured: str | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Call a task's target the way its kind says."""
    if inspect.isclass(target):
        instance: Any = target()
        return instance(*args, **kwargs)
    if captured is not None:
        return rebuild(type(target), captured)(*args, **kwargs)
    return target(*args, **kwargs)


# SWF's ScheduleLambdaFunction: `name` is 1-64 characters, `startToCloseTimeout` at most 900 seconds
# (Lambda's own limit); a longer timeout would be refused by SWF only when the step is scheduled.
MAX_LAMBDA_NAME = 64
MAX_LAMBDA_TIMEOUT = 900


def check_lambda(task: Any) -> None:
    """Raise PipelineError when a task's `lambda_function` option cannot be scheduled on SWF."""
    function = task.lambda_function
    if function is None:
        return
    if not isinstance(function, str) or not function or len(function) > MAX_LAMBDA_NAME or function != function.strip():
        raise PipelineError(
            f"task {task.name}: lambda_function={function!r} is not a Lambda function name SWF accepts: "
            f"give the function's name or its ARN, 1-{MAX_LAMBDA_NAME} characters without surrounding spaces"
        )
    if task.timeout is not None and not 0 < task.timeout <= MAX_LAMBDA_TIMEOUT:
        raise PipelineError(
            f"task {task.name}: timeout={task.timeout} is too long for a Lambda step (at most "
            f"{MAX_LAMBDA_TIMEOUT} seconds, Lambda's limit): lower @pf.task(timeout=...)"
        )
    if task.task_list is not None:
        raise PipelineError(
            f"task {task.name}: a Lambda step has no task list (SWF invokes the function; the embedded engine's "
            "stand-in runs on the pipeline's own list): drop task_list= or lambda_function="
        )
