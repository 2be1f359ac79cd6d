"""Load a pipeline file (`FILE[:ATTR]`) and collect the tasks it may run.

The file is executed as a module named by its stem, as `python FILE` would
(its directory goes first on `sys.path` so sibling helpers import), and
nothing else is executed. Every failure becomes a `PipelineLoadError` whose
message is one paragraph a user can act on: no traceback, since the mistake is
in their file, not in pipeflow.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ._errors import PipelineLoadError

__all__ = ["LoadedPipeline", "load_file", "load_pipeline", "load_targets", "loaded_files", "loaded_from", "parse_spec", "pipeline_names", "tasks_of"]

DEFAULT_ATTR = "pipeline"

# Files loaded so far, by resolved path: loading twice returns the same module,
# so a worker given a file twice registers its tasks once.
_loaded: dict[Path, ModuleType] = {}


@dataclass(frozen=True)
class LoadedPipeline:
    """A pipeline object found in a file, and every task the file's pipelines reach."""

    path: Path
    attr: str
    module: ModuleType
    target: Any
    tasks: tuple[Any, ...]


def parse_spec(spec: str) -> tuple[str, str | None]:
    """Split `FILE[:ATTR]` into the file and the attribute (None when not given)."""
    head, sep, tail = spec.rpartition(":")
    if sep and head and tail.isidentifier():
        return head, tail
    return spec, None


def load_pipeline(spec: str) -> LoadedPipeline:
    """Load `FILE[:ATTR]` (ATTR defaults to `pipeline`); check it is a pipeline, canvas or task."""
    file, attr = parse_spec(spec)
    attr = attr or DEFAULT_ATTR
    module = load_file(file)
    path = Path(module.__file__ or file)
    if not hasattr(module, attr):
        raise PipelineLoadError(_missing_attr_message(file, attr, module), path=str(path))
    target = getattr(module, attr)
    if not is_pipeline_like(target):
        kind = type(target).__name__
        raise PipelineLoadError(
            f"{file}:{attr} is a {kind}, not a pipeline: give a pf.Pipeline, a canvas "
            f"(pf.chain, pf.group, pf.map, pf.stage) or a @pf.task.{_available(module)}",
            path=str(path),
        )
    return LoadedPipeline(path=path, attr=attr, module=module, target=target, tasks=module_tasks(module))


def load_targets(spec: str) -> list[LoadedPipeline]:
    """`FILE:ATTR` -> that pipeline; `FILE` -> every pipeline-like object of the file (workers, deciders)."""
    file, attr = parse_spec(spec)
    if attr is not None:
        return [load_pipeline(spec)]
    module = load_file(file)
    names = pipeline_names(module)
    if not names:
        raise PipelineLoadError(f"{file} defines no pipeline, canvas or task.", path=file)
    path = Path(module.__file__ or file)
    tasks = module_tasks(module)
    return [LoadedPipeline(path=path, attr=n, module=module, target=getattr(module, n), tasks=tasks) for n in names]


def load_file(file: str | Path) -> ModuleType:
    """Execute a pipeline file as a module named by its stem; the same file loads once."""
    path = Path(file)
    if not path.exists():
        raise PipelineLoadError(f"No pipeline file at {str(file)!r} (from {Path.cwd()}).", path=str(file))
    if path.is_dir():
        raise PipelineLoadError(f"{str(file)!r} is a directory; give a Python file such as {file}/pipeline.py.", path=str(file))
    path = path.resolve()
    if path in _loaded:
        return _loaded[path]
    name = path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PipelineLoadError(f"{str(file)!r} cannot be loaded as Python (is it a .py file?).", path=str(file))
    module = importlib.util.module_from_spec(spec)
    # Register under the stem unless that name is taken by another module
    # (a file called json.py must not replace the json package).
    register = name not in sys.modules
    if register:
        sys.modules[name] = module
    directory = str(path.parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        _forget(name, register)
        where = f"{file}, line {exc.lineno}" if exc.lineno else str(file)
        text = f": {exc.text.strip()}" if exc.text and exc.text.strip() else ""
        raise PipelineLoadError(f"Syntax error in {where}: {exc.msg}{text}", path=str(file)) from None
    except ImportError as exc:
        _forget(name, register)
        raise PipelineLoadError(
            f"{str(file)!r} could not import what it needs ({_line_in(exc, path)}): "
            f"{type(exc).__name__}: {exc}. Install the missing package or fix the import.",
            path=str(file),
        ) from None
    except Exception as exc:  # the user's module-level code failed: report it, it is not our bug
        _forget(name, register)
        raise PipelineLoadError(
            f"Loading {str(file)!r} failed ({_line_in(exc, path)}): {type(exc).__name__}: {exc}",
            path=str(file),
        ) from None
    _loaded[path] = module
    return module


def loaded_files() -> list[tuple[Path, ModuleType]]:
    """The pipeline files loaded by this process so far, with their modules."""
    return list(_loaded.items())


def loaded_from(namespace: dict[str, Any]) -> Path | None:
    """The file a module was loaded from by this loader, given the module's globals."""
    for path, module in _loaded.items():
        if vars(module) is namespace:
            return path
    return None


def _forget(name: str, registered: bool) -> None:
    if registered:
        sys.modules.pop(name, None)


def _line_in(exc: BaseException, path: Path) -> str:
    """The deepest line of `path` in the exception's traceback, as 'line N'."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename) == path:
            line = frame.lineno
    return f"line {line}" if line is not None else "while executing it"


def is_pipeline_like(obj: object) -> bool:
    """True for a pipeline, a canvas node, a task or a task signature."""
    from ._pipeline import Pipeline
    from .canvas import Canvas
    from .task import Signature, Task

    return isinstance(obj, (Pipeline, Canvas, Task, Signature))


def pipeline_names(module: ModuleType) -> list[str]:
    """The public module attributes that are pipelines, canvases or tasks."""
    return sorted(n for n, v in vars(module).items() if not n.startswith("_") and is_pipeline_like(v))


def _available(module: ModuleType) -> str:
    names = pipeline_names(module)
    if not names:
        return " The file defines no pipeline, canvas or task."
    return f" Pipeline-like names in the file: {', '.join(names)} (pick one with FILE:NAME)."


def _missing_attr_message(file: str, attr: str, module: ModuleType) -> str:
    return f"{file} has no attribute {attr!r}.{_available(module)}"


def module_tasks(module: ModuleType) -> tuple[Any, ...]:
    """Every task reachable from the pipeline-like objects a module holds (the worker's allowlist)."""
    seen: dict[int, Any] = {}
    for value in vars(module).values():
        if is_pipeline_like(value):
            for task in _walk(value):
                seen.setdefault(id(task), task)
    return tuple(seen.values())


def tasks_of(obj: object) -> tuple[Any, ...]:
    """Every task reachable from a pipeline, canvas, task or signature, each once."""
    seen: dict[int, Any] = {}
    for task in _walk(obj):
        seen.setdefault(id(task), task)
    return tuple(seen.values())


def _walk(obj: object) -> Iterator[Any]:
    from ._pipeline import Pipeline
    from .canvas import iter_tasks

    if isinstance(obj, Pipeline):
        obj = obj.canvas
    yield from iter_tasks(obj)
