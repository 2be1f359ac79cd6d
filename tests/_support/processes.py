"""`python -m pipeflow ARGS` as a real process for the end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def pipeflow_process(*args: str, log: Any = subprocess.DEVNULL) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m pipeflow ARGS` in its own process group (stderr to `log`), SIGKILLed with it at the end.

    Not SIGTERM: a stopping worker or decider waits for its poll in flight, up to 60 s on a server.
    """
    proc = subprocess.Popen([sys.executable, "-m", "pipeflow", *args], start_new_session=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
