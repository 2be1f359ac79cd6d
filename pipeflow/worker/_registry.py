"""The worker's allowlist: the tasks of the pipeline files it was started with.

An activity type is looked up here by (name, version) and nowhere else: a name
found in a history or an input is never imported.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .._errors import WorkerError

__all__ = ["Registry", "TaskRef"]


@dataclass(frozen=True)
class TaskRef:
    """Where a task lives, so a freshly started child process can find the same task."""

    name: str
    version: str
    module: str
    qualname: str
    file: str | None
    by_path: bool = False  # the module was loaded from its file by the pipeline loader

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
            key = (task.name, task.version)
            other = table.setdefault(key, task)
            if other is not task and getattr(other, "fn", None) is not getattr(task, "fn", None):
                raise WorkerError(
                    f"two different tasks share the activity type {key[0]!r} version {key[1]!r}; "
                    "give one of them another name= or version="
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
        return ", ".join(f"{n} (version {v})" for n, v in sorted(self.tasks)) or "none"

    def refs(self) -> list[TaskRef]:
        """Where each task lives, to rebuild the registry in a new interpreter."""
        from .._loader import loaded_from

        refs = []
        for (name, version), task in sorted(self.tasks.items()):
            fn = getattr(task, "fn", task)
            module = getattr(fn, "__module__", None) or "__main__"
            # The defining module, even when another module took its name in sys.modules.
            defining = getattr(fn, "__globals__", {})
            file = defining.get("__file__")
            by_path = loaded_from(defining) is not None
            refs.append(TaskRef(name, version, module, fn.__qualname__, file, by_path))
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
                # The module kept the plain function and bound the task to another name.
                obj = next(
                    (v for v in vars(module).values() if isinstance(v, Task) and getattr(v, "fn", None) is obj),
                    None,
                )
            if obj is None:
                raise WorkerError(f"task {ref.name!r} is not found at {ref.module}.{ref.qualname} in the worker process")
            table[(ref.name, ref.version)] = obj
        return cls(tasks=table)


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
