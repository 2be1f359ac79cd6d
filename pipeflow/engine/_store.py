"""Store: the durable, append-only log of accepted state changes (SQLite, WAL)."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._errors import EngineError

__all__ = ["Store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY AUTOINCREMENT, op TEXT NOT NULL, now REAL NOT NULL,
                                params TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshot (seq INTEGER PRIMARY KEY, data TEXT NOT NULL);
"""
FORMAT = "1"
OPEN_PATIENCE = 2.0  # seconds an opening engine retries a lock held for an instant by someone else


class Store:
    """One SQLite file; each append is its own committed transaction.

    The state machine is deterministic given (operation, params, now), so the log of
    accepted mutating calls is the state: replaying it rebuilds every execution, task
    token and scheduled timeout exactly. A snapshot (the state as JSON) replaces the log
    entries it covers, so a restart replays only what came after it.
    """

    def __init__(self, path: str | Path) -> None:
        _private(Path(path))
        # Used only under the engine's lock, from whichever thread holds it.
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=1.0)
        # A command asking whether the state is held (`pipeflow runs` next to a starting run) takes
        # the lock for an instant, and some of the steps below fail at once instead of waiting
        # for it: try again for a moment before concluding that another engine has it.
        deadline = time.monotonic() + OPEN_PATIENCE
        while True:
            try:
                self._lock_and_create()
                break
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) and time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                self._db.close()
                raise EngineError(f"cannot open the engine database {path}: {exc} "
                                  "(is another engine using it?)") from exc
        for suffix in ("-wal", "-shm"):  # SQLite gives them the database's mode; older files may predate it
            _chmod(Path(f"{path}{suffix}"), 0o600)
        row = self._db.execute("SELECT value FROM meta WHERE key='salt'").fetchone()
        if row is None:
            self.salt = secrets.token_hex(6)
            self._db.execute("INSERT INTO meta VALUES ('salt', ?), ('format', ?)", (self.salt, FORMAT))
        else:
            self.salt = row[0]

    def _lock_and_create(self) -> None:
        # One engine per database: a second writer would fork the log. The OS drops the lock
        # when the process dies, so a restart after SIGKILL gets it.
        self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
        self._db.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL survives a killed process (only an OS crash can lose the last commits).
        self._db.execute("PRAGMA synchronous=NORMAL")
        if not self._db.in_transaction:
            self._db.execute("BEGIN IMMEDIATE")  # takes the exclusive lock now, not at the first call
        self._db.executescript(_SCHEMA)  # executescript commits first: the lock is kept

    def snapshot(self) -> dict[str, Any] | None:
        row = self._db.execute("SELECT data FROM snapshot ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def entries(self) -> Iterator[tuple[str, float, dict[str, Any]]]:
        """The log entries after the latest snapshot, oldest first."""
        rows = self._db.execute("SELECT op, now, params FROM log WHERE seq > "
                                "(SELECT COALESCE(MAX(seq), 0) FROM snapshot) ORDER BY seq")
        for op, now, params in rows.fetchall():
            yield op, now, json.loads(params)

    def write_snapshot(self, data: dict[str, Any]) -> None:
        """Store a snapshot of the state after the last log entry and drop what it covers, atomically."""
        text = json.dumps(data, separators=(",", ":"))
        self._db.execute("BEGIN IMMEDIATE")
        try:
            seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM log").fetchone()[0]
            self._db.execute("INSERT OR REPLACE INTO snapshot VALUES (?, ?)", (seq, text))
            self._db.execute("DELETE FROM snapshot WHERE seq < ?", (seq,))
            self._db.execute("DELETE FROM log WHERE seq <= ?", (seq,))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def append(self, op: str, now: float, params: dict[str, Any]) -> None:
        self._db.execute("INSERT INTO log (op, now, params) VALUES (?, ?, ?)",
                         (op, now, json.dumps(params, separators=(",", ":"))))

    def close(self) -> None:
        self._db.close()


def _private(path: Path) -> None:
    """Create the database file 0600 (and missing folders 0700) whatever the umask; tighten an existing one.

    SQLite creates the -wal and -shm files with the database file's mode, so they follow.
    pipeflow's own state folder (.pipeflow) is made 0700 even when something else created it.
    """
    missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
        _chmod(folder, 0o700)
    if path.parent.name == ".pipeflow":
        _chmod(path.parent, 0o700)
    if str(path) == ":memory:":
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise EngineError(f"cannot open the engine database {path}: {exc.strerror or exc}") from exc
    try:
        os.fchmod(fd, 0o600)
    except PermissionError:  # another user's file that we may write: its mode is theirs to set
        pass
    finally:
        os.close(fd)


def _chmod(path: Path, mode: int) -> None:
    try:
        if not path.is_symlink():  # a link's target is not ours to change
            os.chmod(path, mode)
    except (FileNotFoundError, PermissionError):
        pass
