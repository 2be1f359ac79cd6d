"""Group commit (sync="full"): calls share an fsync, and none is answered before what it saw is durable."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from pipeflow.engine import Engine
from pipeflow.engine._chain import read_head
from tests._support.servers import pipeflow_server_process

WORKFLOW = {"name": "w", "version": "1"}


def _register(swf: Any) -> None:
    swf.register_domain(name="d", workflowExecutionRetentionPeriodInDays="1")
    swf.register_workflow_type(domain="d", **WORKFLOW, defaultTaskList={"name": "t"},
                               defaultChildPolicy="TERMINATE", defaultTaskStartToCloseTimeout="60",
                               defaultExecutionStartToCloseTimeout="3600")


def _start(swf: Any, workflow_id: str) -> None:
    swf.start_workflow_execution(domain="d", workflowId=workflow_id, workflowType=WORKFLOW)


def _count(swf: Any) -> int:
    return int(swf.count_open_workflow_executions(domain="d", startTimeFilter={"oldestDate": 0})["count"])


def _open_ids(swf: Any) -> set[str]:
    ids: set[str] = set()
    kwargs: dict[str, Any] = {"domain": "d", "startTimeFilter": {"oldestDate": 0}, "maximumPageSize": 1000}
    while True:
        page = swf.list_open_workflow_executions(**kwargs)
        ids |= {info["execution"]["workflowId"] for info in page["executionInfos"]}
        if not page.get("nextPageToken"):
            return ids
        kwargs["nextPageToken"] = page["nextPageToken"]


class SlowWrites:
    """Wraps Store.write: counts batches and rows, and can hold or fail the next batch."""

    def __init__(self, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
        assert engine._store is not None
        self.store = engine._store
        self.write = self.store.write
        self.batches: list[int] = []
        self.delay = 0.0
        self.entered = threading.Event()  # a batch is being written
        self.release = threading.Event()
        self.release.set()
        self.fail = False
        monkeypatch.setattr(self.store, "write", self)

    def __call__(self, rows: list[Any]) -> None:
        self.entered.set()
        self.release.wait(10)
        time.sleep(self.delay)
        if self.fail:
            self.fail = False
            raise sqlite3.OperationalError("database or disk is full")
        self.write(rows)
        self.batches.append(len(rows))


def test_concurrent_calls_share_commits_and_all_are_durable(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "state.sqlite"
    engine = Engine(db=db, sync="full")
    swf = engine.client()
    _register(swf)
    writes = SlowWrites(engine, monkeypatch)
    writes.delay = 0.01  # a slow disk: callers pile up behind one commit
    errors: list[BaseException] = []

    def starter(k: int) -> None:
        try:
            for i in range(20):
                _start(swf, f"wf-{k}-{i}")
                assert _count(swf) >= i + 1  # a read after our own answered start sees it
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=starter, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert sum(writes.batches) == 160
    assert max(writes.batches) > 1 and len(writes.batches) < 160  # batched: fewer commits than calls
    assert engine._store is not None and engine._store.pending == 0
    head = read_head(db)
    assert head is not None and head[0] == engine._store._durable_seq
    engine.close()
    with Engine(db=db, sync="full") as again:
        assert _count(again.client()) == 160


def test_a_failed_batch_fails_all_its_calls_and_leaves_no_trace(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Calls staged in the failed batch, calls staged on top of it, and reads that saw them: all refused."""
    from pipeflow.engine import _engine

    monkeypatch.setattr(_engine, "REFUSE_AFTER_FAILED_COMMIT", 60.0)
    db = tmp_path / "state.sqlite"
    engine = Engine(db=db, sync="full")
    swf = engine.client()
    _register(swf)
    _start(swf, "before")
    writes = SlowWrites(engine, monkeypatch)
    writes.release.clear()
    writes.entered.clear()
    writes.fail = True
    outcome: dict[str, str] = {}

    def run(name: str, call: Any) -> None:
        try:
            call()
            outcome[name] = "ok"
        except ClientError as exc:
            outcome[name] = exc.response["Error"]["Code"]

    leader = threading.Thread(target=run, args=("a", lambda: _start(swf, "a")))
    leader.start()
    assert writes.entered.wait(10)  # "a" is being committed, outside the lock
    # the lock is free meanwhile: a read that sees "a" and a start on top of it must wait
    reader = threading.Thread(target=run, args=("read", lambda: _open_ids(swf)))
    stacked = threading.Thread(target=run, args=("b", lambda: _start(swf, "b")))
    reader.start()
    stacked.start()
    time.sleep(0.3)
    assert outcome == {}  # nobody answered before the commit ends
    with engine._lock:
        assert engine._store is not None and engine._store.pending == 1  # "b", staged on top of "a"
    writes.release.set()
    for thread in (leader, reader, stacked):
        thread.join(10)
    assert outcome == {"a": "ServiceUnavailable", "read": "ServiceUnavailable", "b": "ServiceUnavailable"}
    assert _open_ids(swf) == {"before"}  # memory is the database again
    with pytest.raises(ClientError, match="could not be saved"):  # refused at once for a moment
        _start(swf, "a")
    engine._refusing_until = time.monotonic()
    _start(swf, "a")  # the retry works: not "already started"
    assert _open_ids(swf) == {"before", "a"}
    engine.close()
    with Engine(db=db, sync="full") as again:  # the chain and its head verify; only what was answered
        assert _open_ids(again.client()) == {"before", "a"}


def test_a_full_disk_under_group_commit(tmp_path: Path) -> None:
    """SQLite's own "database or disk is full" (max_page_count) with concurrent callers."""
    db = tmp_path / "state.sqlite"
    engine = Engine(db=db, sync="full")
    swf = engine.client()
    _register(swf)
    assert engine._store is not None
    database = engine._store._db
    pages = database.execute("PRAGMA page_count").fetchone()[0]
    database.execute(f"PRAGMA max_page_count={pages + 3}")
    acknowledged: list[str] = []
    refused: list[str] = []
    seen: list[set[str]] = []
    lock = threading.Lock()

    def starter(k: int) -> None:
        for i in range(40):
            name = f"wf-{k}-{i}"
            try:
                swf.start_workflow_execution(domain="d", workflowId=name, workflowType=WORKFLOW,
                                             input="x" * 4000)
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "ServiceUnavailable", exc.response
                with lock:
                    refused.append(name)
            else:
                with lock:
                    acknowledged.append(name)
            try:
                ids = _open_ids(swf)
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "ServiceUnavailable", exc.response
            else:
                with lock:
                    seen.append(ids)

    threads = [threading.Thread(target=starter, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert acknowledged and refused
    assert _open_ids(swf) == set(acknowledged)  # memory did not run ahead of the disk
    assert all(ids <= set(acknowledged) for ids in seen)  # no read ever showed a refused start
    database.execute("PRAGMA max_page_count=1073741823")
    engine.close()
    with Engine(db=db, sync="full") as again:
        assert _open_ids(again.client()) == set(acknowledged)


def _client(url: str) -> Any:
    return boto3.client("swf", endpoint_url=url, region_name="us-east-1",
                        config=Config(retries={"total_max_attempts": 1}, read_timeout=30))


@pytest.mark.slow
def test_answered_calls_survive_a_sigkill_of_a_full_sync_server(tmp_path: Path) -> None:
    """Many callers on `pipeflow server` (--sync full, group commit); SIGKILL while they are busy."""
    db = tmp_path / "state.sqlite"
    acknowledged: list[str] = []
    seen: list[set[str]] = []
    stop = threading.Event()
    lock = threading.Lock()
    with pipeflow_server_process(db) as (url, proc):
        _register(_client(url))

        def starter(k: int) -> None:
            swf = _client(url)
            i = 0
            while not stop.is_set():
                name = f"wf-{k}-{i}"
                i += 1
                try:
                    _start(swf, name)
                    with lock:
                        acknowledged.append(name)
                    ids = _open_ids(swf)
                    with lock:
                        seen.append(ids)
                except (BotoCoreError, ClientError):
                    return  # the server is gone

        threads = [threading.Thread(target=starter, args=(k,), daemon=True) for k in range(8)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 150 and time.monotonic() < deadline:
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        with lock:  # the server is dead: no answer can follow
            answered = set(acknowledged)
            reads = list(seen)
        stop.set()
        for thread in threads:
            thread.join(30)
    assert len(answered) >= 150
    with pipeflow_server_process(db) as (url, _proc):
        survived = _open_ids(_client(url))
    assert answered <= survived  # nothing answered is lost
    assert all(ids <= survived for ids in reads)  # nothing a read reported is lost
