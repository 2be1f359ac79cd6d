"""The worker's allowlist: the tasks of the pipeline files it was started with.

An activity type is looked up here by (name, version) and nowhere else: a name
found in a history or an input is never imported. A task with `lambda_function=`
is also found under (that name, LAMBDA_VERSION): the activity type the embedded
engine gives the stand-in task of a ScheduleLambdaFunction decision.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .._errors import WorkerError

__all__ = ["LAMBDA_VERSION", "Registry", "TaskRef"]

# The version the embedded engine gives the stand-in activity task of a Lambda function (its name
# is the function's name): never a registered type's version, since SWF versions cannot hold ':'.
# The same constant as pipeflow.engine's (the two packages know nothing of each other; a test pins it).
LAMBDA_VERSION = ":lambda"


@dataclass(frozen=True)
class TaskRef:
    """Where a task lives, so a freshly started child process can find the same task."""

    name: str
    version: str
    module: str
    qualname: str
    file: str | None
    by_path: bool = False  # the module was loaded from its file by the pipeline loader
    captured: str | None = None  # an instance task's state as its parent captured it (pipeflow._target)

    @property
    def importable(self) -> bool:
        """True when a new interpreter can import the task (module level, in a file)."""
        if "<locals>" in self.qualname:
            return False
        return self.module != "__main__" or self.file is not None


@dataclass(frozen=True)
class Registry:
    """Tasks by activity type (name, version)."""

    tasks: Mapping[tuple[str, str], Any]

    @classmethod
    def from_tasks(cls, tasks: Iterable[Any]) -> Registry:
        """A registry of the given tasks; two different tasks with one activity type is an error."""
        table: dict[tuple[str, str], Any] = {}
        for task in tasks:
            keys = [(task.name, task.version)]
            if getattr(task, "lambda_function", None):
                keys.append((task.lambda_function, LAMBDA_VERSION))
            for key in keys:
                other = table.setdefault(key, task)
                if other is not task and getattr(other, "fn", None) is not getattr(task, "fn", None):
                    what = f"the Lambda function {key[0]!r}" if key[1] == LAMBDA_VERSION else \
                        f"the activity type {key[0]!r} version {key[1]!r}"
                    raise WorkerError(
                        f"two different tasks share {what}; give one of them another name= or version= "
                        "(or lambda_function=)"
                    )
        return cls(tasks=table)

    @classmethod
    def from_files(cls, specs: Iterable[str]) -> Registry:
        """A registry of every task reachable from the pipelines of the given `FILE[:ATTR]`s."""
        from .._loader import load_pipeline

        tasks: list[Any] = []
        for spec in specs:
            tasks.extend(load_pipeline(spec).tasks)
        return cls.from_tasks(tasks)

    def get(self, name: str, version: str) -> Any | None:
        """The task registered for an activity type, or None."""
        return self.tasks.get((name, version))

    def describe(self) -> str:
        """The registered activity types, for error messages."""
        return ", ".join(f"Lambda function {n} (stand-in)" if v == LAMBDA_VERSION else f"{n} (version {v})"
                         for n, v in sorted(self.tasks)) or "none"

    def refs(self) -> list[TaskRef]:
        """Where each task lives, to rebuild the registry in a new interpreter."""
        from .._loader import loaded_from

        refs = []
        for (name, version), task in sorted(self.tasks.items()):
            fn = getattr(task, "fn", task)
            # A class task is found as its class; an instance task as a Task of the module (by name).
            home = fn if isinstance(fn, type) or hasattr(fn, "__qualname__") else type(fn)
            module = getattr(home, "__module__", None) or "__main__"
            # The defining module, even when another module took its name in sys.modules.
            defining = getattr(fn, "__globals__", None)
            if defining is None:
                defining = vars(sys.modules[module]) if module in sys.modules else {}
            file = defining.get("__file__")
            by_path = loaded_from(defining) is not None
            refs.append(TaskRef(name, version, module, home.__qualname__, file, by_path,
                                getattr(task, "captured", None)))
        return refs

    @property
    def importable(self) -> bool:
        """True when every task can be found again by a freshly started interpreter."""
        return all(ref.importable for ref in self.refs())

    @classmethod
    def from_refs(cls, refs: Iterable[TaskRef]) -> Registry:
        """Rebuild a registry in a new interpreter (a spawned worker process)."""
        from ..task import Task

        table: dict[tuple[str, str], Any] = {}
        for ref in refs:
            module = _module(ref)
            obj: Any = module
            for part in ref.qualname.split("."):
                obj = getattr(obj, part, None)
            if not isinstance(obj, Task):
                # The module kept the plain function and bound the task to another name, or the
                # task is an instance's (found by its activity type, or its Lambda function).
                obj = next(
                    (v for v in vars(module).values() if isinstance(v, Task) and (
                        getattr(v, "fn", None) is obj or _answers(v, ref))),
                    None,
                )
            if obj is None:
                raise WorkerError(f"task {ref.name!r} is not found at {ref.module}.{ref.qualname} in the worker process")
            if ref.captured is not None and obj.captured != ref.captured:
                obj = dataclasses.replace(obj, captured=ref.captured)  # the state the parent captured, not a re-run's
            table[(ref.name, ref.version)] = obj
        return cls(tasks=table)


def _answers(task: Any, ref: TaskRef) -> bool:
    if ref.version == LAMBDA_VERSION:
        return bool(task.lambda_function == ref.name)
    return bool(task.name == ref.name and task.version == ref.version)


def _module(ref: TaskRef) -> Any:
    if ref.by_path and ref.file is not None:
        return _load(ref.file)
    if ref.module in sys.modules:
        return sys.modules[ref.module]
    if ref.module == "__main__" and ref.file is not None:
        return sys.modules.get("__mp_main__") or _load(ref.file)
    try:
        return importlib.import_module(ref.module)
    except ImportError:
        if ref.file is None:
            raise
        return _load(ref.file)


def _load(file: str) -> Any:
    from .._loader import load_file

    return load_file(file)
