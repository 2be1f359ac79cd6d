"""Waiting for a file another process writes."""

from __future__ import annotations

import time
from pathlib import Path


def wait_for_file(path: Path, timeout: float = 60.0) -> str:
    """The text of `path` once it exists and is not empty; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.02)
    raise AssertionError(f"{path} was never written")
