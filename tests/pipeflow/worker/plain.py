"""Jobs for the pool tests: plain functions over JSON, independent of pipeflow's wire format."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pipeflow as pf


@dataclass(frozen=True)
class PlainTask:
    name: str
    fn: Any
    version: str = "1"
    heartbeat: float | None = None


def execute(task: Any, activity_id: str, data: str, store: str | None) -> list[Any]:
    """Call the task on the JSON input; any exception is its failure."""
    try:
        return ["ok", json.dumps(task.fn(json.loads(data)))]
    except Exception as exc:
        return ["fail", type(exc).__name__, str(exc)]


def inc(x: int) -> int:
    return x + 1


def meet(paths: list[str]) -> int:
    """Create my file, then wait for the other's: returns only if both jobs run at once."""
    mine, other = Path(paths[0]), Path(paths[1])
    mine.touch()
    deadline = time.monotonic() + 30
    while not other.exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the other job never ran alongside this one")
        time.sleep(0.005)
    return os.getpid()


def wait_for_kill(pidfile: str) -> None:
    pf.heartbeat("about to wait")
    Path(pidfile).write_text(str(os.getpid()))
    time.sleep(60)


def crash(x: Any) -> None:
    raise KeyError(x)


def nap(seconds: float) -> str:
    time.sleep(seconds)
    return "rested"


TASKS = [
    PlainTask("inc", inc),
    PlainTask("meet", meet),
    PlainTask("wait_for_kill", wait_for_kill),
    PlainTask("crash", crash),
    PlainTask("nap", nap, heartbeat=2),
]
