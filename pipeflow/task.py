"""`@task`, `Task` and its signatures (`.s()` / `.si()`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

from ._errors import PipelineError

__all__ = ["Signature", "Task", "default_name", "task"]


def default_name(fn: Callable[..., Any]) -> str:
    """`<file stem>.<qualname>`: the same whether the file was imported as `x`, `pkg.x` or `__main__`."""
    module = sys.modules.get(getattr(fn, "__module__", "") or "")
    file = getattr(module, "__file__", None)
    stem = Path(file).stem if file else (getattr(fn, "__module__", None) or "task")
    return f"{stem}.{fn.__qualname__}"


@dataclass(frozen=True, eq=False)
class Task:
    """A function that runs as an SWF activity; calling it calls the function directly."""

    fn: Callable[..., Any]
    name: str
    version: str = "1"
    retries: int = 0
    retry_delay: float = 1.0
    timeout: int | None = 300
    heartbeat: int | None = None
    task_list: str | None = None
    converter: Any = None
    cache: bool = False

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise PipelineError(f"@task needs a function, got {self.fn!r}")
        if self.retries < 0:
            raise PipelineError(f"task {self.name}: retries must be >= 0, got {self.retries}")
        if self.retry_delay < 0:
            raise PipelineError(f"task {self.name}: retry_delay must be >= 0, got {self.retry_delay}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def s(self, *args: Any, **kwargs: Any) -> Signature:
        """A partial: the piped value comes first, then `args`."""
        return Signature(self, args, tuple(sorted(kwargs.items())), immutable=False)

    def si(self, *args: Any, **kwargs: Any) -> Signature:
        """An immutable partial: the piped value is ignored."""
        return Signature(self, args, tuple(sorted(kwargs.items())), immutable=True)

    def __repr__(self) -> str:
        return f"<Task {self.name} v{self.version}>"


@dataclass(frozen=True, eq=False)
class Signature:
    """A task with bound arguments."""

    task: Task
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = field(default=())
    immutable: bool = False

    def __repr__(self) -> str:
        kind = "si" if self.immutable else "s"
        return f"{self.task.name}.{kind}(...)"


@overload
def task(fn: Callable[..., Any], /) -> Task: ...
@overload
def task(
    *,
    name: str | None = None,
    version: str = "1",
    retries: int = 0,
    retry_delay: float = 1.0,
    timeout: int | None = 300,
    heartbeat: int | None = None,
    task_list: str | None = None,
    converter: Any = None,
    cache: bool = False,
) -> Callable[[Callable[..., Any]], Task]: ...


def task(fn: Callable[..., Any] | None = None, /, **options: Any) -> Task | Callable[[Callable[..., Any]], Task]:
    """Make a function a pipeline task: `@task` or `@task(retries=3, timeout=60)`."""

    def wrap(f: Callable[..., Any]) -> Task:
        kwargs: dict[str, Any] = dict(options)
        name = kwargs.pop("name", None) or default_name(f)
        if "version" in kwargs:
            kwargs["version"] = str(kwargs["version"])  # SWF type versions are strings; @task(version=2) is natural
        return Task(f, name, **kwargs)

    if fn is not None:
        return wrap(fn)
    return wrap
