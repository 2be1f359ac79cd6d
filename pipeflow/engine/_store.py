"""Store: the durable, append-only log of accepted state changes (SQLite, WAL), checked at open."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

from .._errors import EngineError
from ._chain import GENESIS, StoreDamaged, link, read_head, snapshot_sum

__all__ = ["Store", "StoreDamaged"]

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE log (seq INTEGER PRIMARY KEY AUTOINCREMENT, op TEXT NOT NULL, now REAL NOT NULL,
                  params TEXT NOT NULL, hash TEXT);
CREATE TABLE snapshot (seq INTEGER PRIMARY KEY, data TEXT NOT NULL, hash TEXT, sum TEXT);
CREATE TABLE runs (run_id TEXT PRIMARY KEY, domain TEXT NOT NULL, head TEXT NOT NULL, hsum TEXT NOT NULL,
                   sum TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX runs_by_domain ON runs (domain);
"""
# The closed runs' table, added by format 3 (the record last: listing reads the head, never the history).
RUNS_SCHEMA = SCHEMA[SCHEMA.index("CREATE TABLE runs"):]
FORMAT = "4"  # "1": no chain, "2": closed runs in the snapshot, "3": JSON records; migrated on first open
OPEN_PATIENCE = 2.0  # seconds an opening engine retries a lock held for an instant by someone else
SYNC_MODES = ("full", "normal")
_HEAD_SIZE = 96  # bytes of the head file, rewritten in place so it never grows (a full disk cannot stop it)


class Store:
    """One SQLite file; each append is its own committed transaction, or (group commit, under
    sync="full") rows are staged under the engine's lock and written by one committer per batch,
    a transaction (and an fsync) for many calls, outside that lock.

    The state machine is deterministic given (operation, params, now), so the log of
    accepted mutating calls is the state: replaying it rebuilds every execution, task
    token and scheduled timeout exactly. A snapshot (the state as JSON) replaces the log
    entries it covers, so a restart replays only what came after it.

    Each row carries a hash chaining it to the one before (a snapshot carries the hash of
    the last row it covers), and ``<db>.head`` holds the last committed seq and hash, so
    a missing, changed or lost row is found at open instead of silently replayed around.

    Closed runs are not in the snapshot: each has a row in ``runs`` (a head for listing and the
    whole record, each with its checksum, checked when read), written in the snapshot's own
    transaction; the snapshot counts them, so a lost row is found at open too.
    """

    def __init__(self, path: str | Path, sync: str = "normal") -> None:
        """`sync`: "full" makes each commit durable against a machine's crash (an fsync of the WAL
        per commit); "normal" against a killed process (the OS still holds what was written)."""
        if sync not in SYNC_MODES:
            raise ValueError(f"sync={sync!r}: give one of {', '.join(SYNC_MODES)}")
        self.sync = sync
        self.path = Path(path)
        _private(self.path)
        head = read_head(self.path)
        if head is not None and head[0] > 0 and self.path.stat().st_size == 0:  # before SQLite writes a header
            raise StoreDamaged(self.path, f"it is empty, but its head ({self.path}.head) says {head[0]:,} "
                                          "changes were acknowledged: they are lost")
        # Used only under the engine's lock, from whichever thread holds it.
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=1.0)
        # A command asking whether the state is held (`pipeflow runs` next to a starting run) takes
        # the lock for an instant, and some of the steps below fail at once instead of waiting
        # for it: try again for a moment before concluding that another engine has it.
        deadline = time.monotonic() + OPEN_PATIENCE
        while True:
            try:
                self._lock()
                break
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) and time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                self._db.close()
                raise EngineError(f"cannot open the engine database {path}: {exc} "
                                  "(is another engine using it?)") from exc
            except sqlite3.DatabaseError as exc:
                self._db.close()
                raise StoreDamaged(self.path, f"SQLite cannot read it ({exc})") from exc
        for suffix in ("-wal", "-shm"):  # SQLite gives them the database's mode; older files may predate it
            _chmod(Path(f"{path}{suffix}"), 0o600)
        try:
            self._open_tables(head)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreDamaged(self.path, f"SQLite cannot read it ({exc})") from exc
        except BaseException:
            self._db.close()
            raise
        self._head_seq = head[0] if head is not None else None
        self._head_hash = head[1] if head is not None else None
        self._seq, self._hash = 0, GENESIS  # the end of the chain, known once entries() has run
        # Rows staged (chained, not yet written) for the next group commit; see stage() and write().
        self._pending: list[tuple[int, str, float, str, str]] = []
        self._durable_seq, self._durable_hash = 0, GENESIS  # the end of the committed chain
        self._head_fd = -1 if str(path) == ":memory:" else os.open(f"{path}.head", os.O_RDWR | os.O_CREAT, 0o600)

    def _lock(self) -> None:
        # One engine per database: a second writer would fork the log. The OS drops the lock
        # when the process dies, so a restart after SIGKILL gets it.
        self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
        self._db.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL survives a killed process (only an OS crash can lose the last commits);
        # FULL syncs the WAL on every commit, so an acknowledged call survives the machine's crash too.
        self._db.execute(f"PRAGMA synchronous={self.sync.upper()}")
        if not self._db.in_transaction:
            self._db.execute("BEGIN IMMEDIATE")  # takes the exclusive lock now, not at the first call
        self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        self._db.execute("COMMIT")  # the exclusive lock is kept

    def _open_tables(self, head: tuple[int, str] | None) -> None:
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables & {"meta", "log", "snapshot"}:
            if head is not None and head[0] > 0:
                raise StoreDamaged(self.path, f"it holds no engine tables, but its head ({self.path}.head) "
                                              f"says {head[0]:,} changes were acknowledged: they are lost")
            self.salt = secrets.token_hex(6)
            self._db.executescript(f"BEGIN IMMEDIATE; {SCHEMA} COMMIT;")
            self._db.execute("INSERT INTO meta VALUES ('salt', ?), ('format', ?)", (self.salt, FORMAT))
            return
        for name in ("meta", "log", "snapshot"):
            if name not in tables:
                raise StoreDamaged(self.path, f"its {name} table is missing")
        if "runs" not in tables and meta_format(self._db) in ("3", FORMAT):
            raise StoreDamaged(self.path, "its runs table (of closed runs) is missing")
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if "salt" not in meta:
            raise StoreDamaged(self.path, "its meta table has no salt")
        self.salt = meta["salt"]
        problems = [row[0] for row in self._db.execute("PRAGMA quick_check(5)").fetchall()]
        if problems != ["ok"]:
            raise StoreDamaged(self.path, f"SQLite's quick_check finds: {'; '.join(problems)}")
        fmt = meta.get("format", "1")
        if fmt == "1":
            self._migrate()
        if fmt in ("1", "2"):
            self._db.executescript(f"BEGIN IMMEDIATE; {RUNS_SCHEMA} UPDATE meta SET value='{FORMAT}' "
                                   "WHERE key='format'; COMMIT;")
        elif fmt == "3":  # its rows' JSON records stay readable; new rows are msgpack
            self._db.execute(f"UPDATE meta SET value='{FORMAT}' WHERE key='format'")
        elif fmt != FORMAT:
            raise EngineError(f"the engine database {self.path} has format {fmt}, which this pipeflow "
                              f"does not know (it writes format {FORMAT}): use the pipeflow that wrote it")

    def _migrate(self) -> None:
        """Format 1 to 2: add the hash columns and chain the rows there are."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("ALTER TABLE log ADD COLUMN hash TEXT")
            self._db.execute("ALTER TABLE snapshot ADD COLUMN hash TEXT")
            self._db.execute("ALTER TABLE snapshot ADD COLUMN sum TEXT")
            prev = GENESIS
            for seq, data in self._db.execute("SELECT seq, data FROM snapshot").fetchall():
                prev = snapshot_sum(data)
                self._db.execute("UPDATE snapshot SET hash=?, sum=? WHERE seq=?", (prev, prev, seq))
            rows = self._db.execute("SELECT seq, op, now, params FROM log WHERE seq > "
                                    "(SELECT COALESCE(MAX(seq), 0) FROM snapshot) ORDER BY seq").fetchall()
            for seq, op, now, params in rows:
                prev = link(prev, op, now, params)
                self._db.execute("UPDATE log SET hash=? WHERE seq=?", (prev, seq))
            self._db.execute("UPDATE meta SET value='2' WHERE key='format'")
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('format', '2')")
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def snapshot(self) -> dict[str, Any] | None:
        """The latest snapshot, checked against its checksum, and the closed runs' rows against their count."""
        row = self._db.execute("SELECT seq, data, hash, sum FROM snapshot ORDER BY seq DESC LIMIT 1").fetchone()
        closed = self.closed_count()
        if row is None:
            if closed:
                raise StoreDamaged(self.path, f"it holds {closed:,} closed runs but no snapshot listing them")
            return None
        seq, data, chained, total = row
        if snapshot_sum(data) != total:
            raise StoreDamaged(self.path, f"its snapshot (at log row {seq:,}) does not match its checksum")
        image = dict(json.loads(data))
        if image.get("closed", 0) != closed:
            raise StoreDamaged(self.path, f"it holds {closed:,} closed runs where its snapshot (at log row {seq:,}) "
                                          f"says {image.get('closed', 0):,}")
        return image

    # --- closed runs: rows of their own, written with the snapshot that leaves them out
    def closed_count(self) -> int:
        """How many closed runs have rows (the snapshot records it: a lost row is found at open)."""
        return int(self._db.execute("SELECT count(*) FROM runs").fetchone()[0])

    def closed_heads(self, domain: str) -> list[tuple[str, str, str]]:
        """(run id, head, its checksum) of every closed run of ``domain``, in the order they were stored."""
        rows = self._db.execute("SELECT run_id, head, hsum FROM runs WHERE domain=? ORDER BY rowid", (domain,))
        return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]

    def closed_record(self, run_id: str) -> tuple[bytes, str] | None:
        """(record, its checksum) of the closed run ``run_id``, or None: msgpack, or a format 3 row's JSON.

        Read as bytes whatever SQLite holds: a row changed into text that is not UTF-8 must fail
        its checksum, not the read.
        """
        row = self._db.execute("SELECT CAST(data AS BLOB), sum FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return None if row is None else (bytes(row[0] or b""), str(row[1]))

    def entries(self) -> Iterator[tuple[str, float, dict[str, Any]]]:
        """The log entries after the latest snapshot, oldest first, each checked against the chain.

        Raises StoreDamaged on a missing or changed row, or when the log ends before its head.
        """
        snap = self._db.execute("SELECT seq, hash FROM snapshot ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (snap[0], snap[1]) if snap is not None else (0, GENESIS)
        at_head = prev if seq == self._head_seq else None
        rows = self._db.execute("SELECT seq, op, now, params, hash FROM log WHERE seq > ? ORDER BY seq", (seq,))
        for row_seq, op, now, params, chained in rows:
            if row_seq != seq + 1:
                missing = f"log row {seq + 1:,} is missing" if row_seq == seq + 2 else \
                    f"log rows {seq + 1:,} to {row_seq - 1:,} are missing"
                raise StoreDamaged(self.path, missing)
            prev = link(prev, op, now, params)
            if chained != prev:
                raise StoreDamaged(self.path, f"log row {row_seq:,} does not match its checksum (changed)")
            seq = row_seq
            if seq == self._head_seq:
                at_head = prev
            yield op, now, json.loads(params)
        if self._head_seq is not None:
            if self._head_seq > seq:
                lost = self._head_seq - seq
                raise StoreDamaged(self.path, f"the log ends at row {seq:,} but its head says {self._head_seq:,}: "
                                              f"{lost:,} acknowledged change{'s' * (lost != 1)} are lost")
            if at_head is not None and at_head != self._head_hash:
                raise StoreDamaged(self.path, f"log row {self._head_seq:,} differs from the one its head recorded")
        self._seq, self._hash = seq, prev
        self._pending = []
        self._durable_seq, self._durable_hash = seq, prev
        self._write_head()

    def write_snapshot(self, data: dict[str, Any], closed: Sequence[tuple[str, str, str, str, bytes | str, str]] = (),
                       purged: Collection[str] = ()) -> None:
        """Store a snapshot of the state after the last log entry and drop what it covers, atomically.

        `closed`: rows of the runs it leaves out (``_snapshot.closed_rows``); `purged`: runs whose
        rows go (their retention ended). The snapshot records how many rows there are then.
        """
        if self._pending:
            raise RuntimeError("a snapshot must not cover uncommitted log rows")
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("INSERT OR REPLACE INTO runs (run_id, domain, head, hsum, data, sum) "
                                 "VALUES (?, ?, ?, ?, ?, ?)", closed)
            self._db.executemany("DELETE FROM runs WHERE run_id=?", [(run_id,) for run_id in purged])
            text = json.dumps({**data, "closed": self.closed_count()}, separators=(",", ":"))
            self._db.execute("INSERT OR REPLACE INTO snapshot VALUES (?, ?, ?, ?)",
                             (self._seq, text, self._hash, snapshot_sum(text)))
            self._db.execute("DELETE FROM snapshot WHERE seq < ?", (self._seq,))
            self._db.execute("DELETE FROM log WHERE seq <= ?", (self._seq,))
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:  # a failed write may have rolled back already
                self._db.execute("ROLLBACK")
            raise

    def append(self, op: str, now: float, params: dict[str, Any]) -> None:
        """Commit one entry; on sqlite3.Error nothing was written."""
        text = json.dumps(params, separators=(",", ":"))
        chained = link(self._hash, op, now, text)
        try:
            self._db.execute("INSERT INTO log (seq, op, now, params, hash) VALUES (?, ?, ?, ?, ?)",
                             (self._seq + 1, op, now, text, chained))
        finally:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        self._seq, self._hash = self._seq + 1, chained
        self._durable_seq, self._durable_hash = self._seq, self._hash
        self._write_head()

    # --- group commit: stage() under the engine's lock, write() outside it, one batch at a time
    def stage(self, op: str, now: float, params: dict[str, Any]) -> None:
        """Chain one entry onto the log's end without writing it: the next take() and write() commit it."""
        text = json.dumps(params, separators=(",", ":"))
        chained = link(self._hash, op, now, text)
        self._seq, self._hash = self._seq + 1, chained
        self._pending.append((self._seq, op, now, text, chained))

    @property
    def pending(self) -> int:
        """How many staged rows no batch has taken yet."""
        return len(self._pending)

    def take(self) -> list[tuple[int, str, float, str, str]]:
        """The staged rows, oldest first, handed to one write()."""
        rows, self._pending = self._pending, []
        return rows

    def write(self, rows: list[tuple[int, str, float, str, str]]) -> None:
        """Commit a batch of taken rows in one transaction (one fsync under sync="full"), then the head.

        Called without the engine's lock by one committer at a time, while nothing else uses the
        connection (staging does not touch it). On sqlite3.Error or OSError nothing was written.
        """
        if not rows:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("INSERT INTO log (seq, op, now, params, hash) VALUES (?, ?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")
        finally:
            if self._db.in_transaction:  # a failed statement or COMMIT: nothing of the batch stays
                self._db.execute("ROLLBACK")
        self._durable_seq, self._durable_hash = rows[-1][0], rows[-1][4]
        self._write_head()

    def discard(self) -> None:
        """Forget every staged row and rewind the chain to its committed end (a batch failed)."""
        self._pending = []
        self._seq, self._hash = self._durable_seq, self._durable_hash

    def _write_head(self) -> None:
        # After the commit, like the WAL under synchronous=NORMAL: a killed process may leave it one
        # commit behind (harmless), never ahead. Written in place, so it never needs a new block.
        if self._head_fd < 0:
            return
        record = f"{self._durable_seq} {self._durable_hash}\n".encode().ljust(_HEAD_SIZE, b" ")
        try:
            os.pwrite(self._head_fd, record, 0)
        except OSError:  # the log is committed; a stale head only weakens the next open's check
            pass

    def close(self) -> None:
        self._db.close()
        if self._head_fd >= 0:
            os.close(self._head_fd)


def meta_format(db: sqlite3.Connection) -> str:
    """The format a database says it has ("1" when it predates the record)."""
    row = db.execute("SELECT value FROM meta WHERE key='format'").fetchone()
    return "1" if row is None else str(row[0])


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
