"""`@task`, `Task` and its signatures (`.s()` / `.si()`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

from ._errors import PipelineError

__all__ = ["DEFAULT_HEARTBEAT", "Signature", "Task", "check_swf_name", "default_name", "task"]

# Seconds of worker silence after which a task's attempt counts as lost and is scheduled again (the
# worker beats every few seconds while it holds a task, queued or running): a dead worker costs this
# much, not the task's whole timeout. `@task(heartbeat=N)` sets another; `heartbeat=0`, none.
DEFAULT_HEARTBEAT = 20

_FORBIDDEN = frozenset(":/|") | frozenset(map(chr, [*range(0x20), *range(0x7F, 0xA0)]))


def check_swf_name(value: object, what: str, fix: str) -> str:
    """`value` if SWF accepts it as a name, version, task list or id; else PipelineError naming `what` and `fix`.

    SWF's rule: 1-256 characters, no leading or trailing whitespace, no `:`, `/`, `|` or control
    characters, and not the literal `arn`.
    """
    text = str(value)
    problem = (
        "is empty" if not text
        else f"is {len(text)} characters long (at most 256)" if len(text) > 256
        else "starts or ends with whitespace" if text != text.strip()
        else "is the literal 'arn'" if text == "arn"
        else f"contains {next(c for c in text if c in _FORBIDDEN)!r}" if any(c in _FORBIDDEN for c in text)
        else None
    )
    if problem is not None:
        raise PipelineError(
            f"{what} {text[:60]!r} {problem}: SWF names are 1-256 characters without ':', '/', '|' or "
            f"control characters; {fix}"
        )
    return text


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
    heartbeat: int | None = None  # None: DEFAULT_HEARTBEAT (see heartbeat_timeout)
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
        if self.heartbeat is not None and self.heartbeat < 0:
            raise PipelineError(f"task {self.name}: heartbeat must be >= 0 seconds (0: none), got {self.heartbeat}")
        check_swf_name(self.name, "the task name", "rename it with @pf.task(name=...)")
        check_swf_name(self.version, f"task {self.name}: the version", "use e.g. @pf.task(version='2')")
        if self.task_list is not None:
            check_swf_name(self.task_list, f"task {self.name}: the task list", "pick another @pf.task(task_list=...)")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    @property
    def heartbeat_timeout(self) -> int | None:
        """Seconds of worker silence that lose an attempt: `heartbeat`, DEFAULT_HEARTBEAT when unset, None for 0."""
        return DEFAULT_HEARTBEAT if self.heartbeat is None else (self.heartbeat or None)

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
