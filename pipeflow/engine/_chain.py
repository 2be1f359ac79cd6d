"""The log's chain: each row's hash covers the row and the hash before it; the head file records the end."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .._errors import EngineError

__all__ = ["GENESIS", "StoreDamaged", "link", "read_head", "snapshot_sum"]

GENESIS = "0" * 64  # the hash "before" the first row of a log that has no snapshot


class StoreDamaged(EngineError):
    """The engine database failed a check at open: what is wrong, where, and the way out."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"the engine database {path} is damaged: {problem}. Nothing was changed; to start "
                         f"from what still verifies (the damaged files are kept aside), run: "
                         f"pipeflow server --db {path} --recover")
        self.path = path
        self.problem = problem


def link(prev: str, op: str, now: float, params: str) -> str:
    """The hash of one log row chained to ``prev``."""
    return hashlib.sha256(f"{prev}\0{op}\0{now!r}\0{params}".encode()).hexdigest()


def snapshot_sum(data: str | bytes) -> str:
    """The checksum of a snapshot's text, or of a closed run's record (msgpack bytes from format 4 on)."""
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def read_head(db: Path) -> tuple[int, str] | None:
    """The (seq, hash) recorded in ``<db>.head``, or None when there is none (or it is unreadable)."""
    try:
        text = Path(f"{db}.head").read_text(encoding="ascii", errors="replace").split()
    except FileNotFoundError:
        return None
    if len(text) != 2 or not text[0].isdigit() or len(text[1]) != 64:
        return None
    return int(text[0]), text[1]
