"""Recovery of a damaged engine database: set it aside, keep the longest prefix that verifies."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._chain import GENESIS, link, read_head, snapshot_sum
from ._store import FORMAT, SCHEMA

__all__ = ["recover"]

_SUFFIXES = ("", "-wal", "-shm", ".head")


@dataclass
class _Kept:
    """What the damaged files still prove."""

    salt: str | None = None
    snapshot: tuple[int, str, str] | None = None  # (seq, data, hash)
    rows: list[tuple[int, str, float, str, str]] = field(default_factory=list)
    closed: list[tuple[str, str, str, str, bytes | str, str]] = field(default_factory=list)  # closed runs' rows that verify
    dropped: list[str] = field(default_factory=list)
    seen: int = 0  # the last log row in the files, verified or not


def recover(db: Path) -> str:
    """Move ``db`` (and its -wal, -shm, .head) aside, write a new ``db`` from what verifies; say what happened."""
    if not db.exists():
        return f"nothing to recover: {db} does not exist"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = db.with_name(f"{db.name}.damaged-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = db.with_name(f"{db.name}.damaged-{stamp}-{n}")
    for suffix in _SUFFIXES:
        if os.path.lexists(f"{db}{suffix}"):
            os.rename(f"{db}{suffix}", f"{aside}{suffix}")
    kept = _read(aside)
    head = read_head(aside)
    end = max(kept.seen, kept.snapshot[0] if kept.snapshot else 0)
    if head is not None and head[0] > end:
        kept.dropped.append(f"log rows {end + 1:,} to {head[0]:,}, acknowledged but no longer in the files")
    _write(db, kept)
    what = []
    if kept.snapshot is not None:
        what.append(f"the snapshot at row {kept.snapshot[0]:,}")
    if kept.closed:
        what.append(f"{len(kept.closed):,} closed runs")
    if kept.rows:
        what.append(f"log rows {kept.rows[0][0]:,} to {kept.rows[-1][0]:,}")
    return (f"recovered {db}: kept {' and '.join(what) or 'nothing'}; dropped "
            f"{'; '.join(kept.dropped) or 'nothing'}; the damaged files are kept as {aside}*")


def _read(aside: Path) -> _Kept:
    """Read a copy (so the set-aside files stay exactly as found) and keep what verifies."""
    kept = _Kept()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "state.sqlite"
        for suffix in ("", "-wal"):
            if os.path.exists(f"{aside}{suffix}"):
                shutil.copyfile(f"{aside}{suffix}", f"{copy}{suffix}")
        con = sqlite3.connect(str(copy))
        try:
            _verify(con, kept)
        except sqlite3.DatabaseError as exc:
            kept.dropped.append(f"what SQLite could not read ({exc})")
        finally:
            con.close()
    return kept


def _verify(con: sqlite3.Connection, kept: _Kept) -> None:
    row = con.execute("SELECT value FROM meta WHERE key='salt'").fetchone()
    kept.salt = None if row is None else str(row[0])
    fmt = con.execute("SELECT value FROM meta WHERE key='format'").fetchone()
    chained = fmt is not None and fmt[0] in ("2", "3", FORMAT)
    seq, prev = 0, GENESIS
    snaps = con.execute(f"SELECT seq, data{', hash, sum' if chained else ''} FROM snapshot "
                        "ORDER BY seq DESC LIMIT 1").fetchall()
    if snaps:
        snap: Any = snaps[0]
        total = snapshot_sum(snap[1])
        if chained and total != snap[3]:
            kept.dropped.append(f"the snapshot at row {snap[0]:,} (its checksum differs) and every row after it")
            return
        seq, prev = snap[0], snap[2] if chained else total
        kept.snapshot = (seq, snap[1], prev)
        if fmt is not None and fmt[0] in ("3", FORMAT):
            _closed_runs(con, kept)
    rows = con.execute(f"SELECT seq, op, now, params{', hash' if chained else ''} FROM log WHERE seq > ? "
                       "ORDER BY seq", (seq,)).fetchall()
    kept.seen = rows[-1][0] if rows else 0
    for i, r in enumerate(rows):
        expected = link(prev, r[1], r[2], r[3])
        problem = ("missing" if r[0] != seq + 1 else
                   "changed" if chained and r[4] != expected else None)
        if problem is not None:
            first = seq + 1
            kept.dropped.append(f"{len(rows) - i:,} log rows from {first:,} (row {first:,} is {problem}) "
                                f"up to {rows[-1][0]:,}")
            return
        seq, prev = r[0], expected
        kept.rows.append((r[0], r[1], r[2], r[3], expected))


def _closed_runs(con: sqlite3.Connection, kept: _Kept) -> None:
    """Keep the closed runs' rows that verify; the snapshot kept is rewritten to count them."""
    try:
        rows = con.execute("SELECT run_id, domain, head, hsum, CAST(data AS BLOB), sum FROM runs "
                           "ORDER BY rowid").fetchall()
    except sqlite3.DatabaseError as exc:
        kept.dropped.append(f"every closed run (SQLite cannot read their table: {exc})")
        rows = []
    bad = 0
    for run_id, domain, head, hsum, data, total in rows:
        if snapshot_sum(head) == hsum and snapshot_sum(data) == total:
            kept.closed.append((run_id, domain, head, hsum, data, total))
        else:
            bad += 1
    if bad:
        kept.dropped.append(f"{bad:,} closed run{'s' * (bad != 1)} whose rows do not match their checksums")
    assert kept.snapshot is not None
    seq, data, prev = kept.snapshot
    image = json.loads(data)
    if image.get("closed", 0) != len(kept.closed):
        image["closed"] = len(kept.closed)
        kept.snapshot = (seq, json.dumps(image, separators=(",", ":")), prev)


def _write(db: Path, kept: _Kept) -> None:
    fd = os.open(db, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    con = sqlite3.connect(str(db), isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.executescript(f"BEGIN IMMEDIATE; {SCHEMA} COMMIT;")
        con.execute("BEGIN IMMEDIATE")
        salt = kept.salt if kept.salt is not None else os.urandom(6).hex()
        con.execute("INSERT INTO meta VALUES ('salt', ?), ('format', ?)", (salt, FORMAT))
        if kept.snapshot is not None:
            seq, data, chained = kept.snapshot
            con.execute("INSERT INTO snapshot VALUES (?, ?, ?, ?)", (seq, data, chained, snapshot_sum(data)))
        con.executemany("INSERT INTO runs (run_id, domain, head, hsum, data, sum) VALUES (?, ?, ?, ?, ?, ?)",
                        kept.closed)
        con.executemany("INSERT INTO log (seq, op, now, params, hash) VALUES (?, ?, ?, ?, ?)", kept.rows)
        con.execute("COMMIT")
    finally:
        con.close()
    seq, chained = 0, GENESIS
    if kept.rows:
        seq, chained = kept.rows[-1][0], kept.rows[-1][4]
    elif kept.snapshot is not None:
        seq, chained = kept.snapshot[0], kept.snapshot[2]
    fd = os.open(f"{db}.head", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, f"{seq} {chained}\n".encode())
    finally:
        os.close(fd)
