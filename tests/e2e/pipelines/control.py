"""Pipelines for the cancel and signal tests: a step that waits to be canceled, signal gates.

Steps take a spec naming files, so a test sees what ran: `started` gets the pid of the process
running the step, `end` is written only if the step runs to its end.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pipeflow as pf


@pf.task
def nap(spec: dict[str, Any]) -> str:
    """Writes its pid to `started`, sleeps `seconds`, then writes `end`; no heartbeat= (idle beats only)."""
    Path(spec["started"]).write_text(str(os.getpid()))
    time.sleep(spec["seconds"])
    Path(spec["end"]).write_text("ran to its end")
    return "woke"


@pf.task(retries=1, retry_delay=600)
def fail_once(spec: dict[str, Any]) -> str:
    """Fails its first attempt (then a 10-minute retry timer is open); the second succeeds."""
    counter = Path(spec["counter"])
    attempt = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(attempt))
    if attempt == 1:
        raise RuntimeError("first attempt fails")
    return "second attempt"


@pf.task
def wait_for_file(spec: dict[str, Any]) -> int:
    """Returns `value` once the file `release` exists (a test lets it go)."""
    Path(spec["started"]).write_text(str(os.getpid()))
    while not Path(spec["release"]).exists():
        time.sleep(0.02)
    return int(spec["value"])


@pf.task
def inc(x: int) -> int:
    return x + 1


@pf.task
def pair(values: list[Any]) -> list[Any]:
    return list(values)


sleeper = pf.chain(pf.group(nap, inc.si(1)), pair)  # nap's spec decides how long it runs
retrying = pf.chain(fail_once, inc)
gate = pf.chain(pf.wait_signal("go"), inc)  # the signal's value + 1
late_gate = pf.chain(wait_for_file, pf.wait_signal("go"), inc)  # a signal sent while the first step runs
two_gates = pf.chain(pf.group(pf.wait_signal("go"), pf.wait_signal("go")), pair)  # two signals, in order
