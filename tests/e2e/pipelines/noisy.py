"""Tasks that print, write to stderr, log and run a program that prints: `tests/e2e/test_logs.py`."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pipeflow as pf

log = logging.getLogger("noisy")


@pf.task
def chatty(x: int) -> int:
    print(f"stdout line {x}")
    print(f"stderr line {x}", file=sys.stderr)
    log.info("info record %d", x)
    log.debug("debug record %d", x)  # below INFO: not captured
    subprocess.run([sys.executable, "-c", "print('from a child process')"], check=True)
    return x + 1


@pf.task(retries=1, retry_delay=0.1)
def flaky(x: int) -> int:
    marker = Path("flaky-marker")
    if not marker.exists():
        marker.write_text("")
        print("first attempt: about to fail")
        raise ValueError("first attempt fails")
    print("second attempt: fine")
    return x * 10


@pf.task
def broken(x: int) -> int:
    for i in range(50):
        print(f"progress {i}")
    raise RuntimeError("broken on purpose")


@pf.task
def flood(x: int) -> int:
    line = "y" * 99 + "\n"
    for _ in range(20_000):  # 2 MB: over the 1 MiB cap
        sys.stdout.write(line)
    print("the very last line")
    return x


pipeline = pf.Pipeline(pf.chain(chatty, flaky), name="noisy")
failing = pf.Pipeline(pf.chain(chatty, broken), name="noisy-failing")
flooding = pf.Pipeline(pf.chain(flood), name="noisy-flood")
