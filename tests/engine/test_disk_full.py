"""A full disk: refused calls change nothing and answer 503, acknowledged ones survive a restart."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from pipeflow.testing import read_url
from tests._support.servers import TEST_CREDENTIALS, pipeflow_server

pytestmark = pytest.mark.slow

REPO = Path(__file__).parent.parent.parent
LIMIT = 400_000  # bytes any file of the server may reach (RLIMIT_FSIZE)
# `python -m pipeflow ARGS...` with RLIMIT_FSIZE at argv[1] (Python ignores SIGXFSZ: writes fail with EFBIG).
_PRELUDE = (
    "import resource, runpy, sys; "
    "limit = int(sys.argv.pop(1)); "
    "resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1])); "
    "runpy.run_module('pipeflow', run_name='__main__')"
)


def _swf(url: str) -> Any:
    return boto3.client("swf", endpoint_url=url, region_name="us-east-1",
                        config=Config(retries={"total_max_attempts": 1}),  # see every refusal
                        **{k.lower(): v for k, v in TEST_CREDENTIALS.items()})


def _open_ids(swf: Any) -> set[str]:
    pages = swf.get_paginator("list_open_workflow_executions").paginate(
        domain="d", startTimeFilter={"oldestDate": 0})
    return {info["execution"]["workflowId"] for page in pages for info in page["executionInfos"]}


def _start(swf: Any, workflow_id: str) -> None:
    swf.start_workflow_execution(domain="d", workflowId=workflow_id, workflowType={"name": "w", "version": "1"},
                                 input="x" * 2000)


def test_disk_full_refusals_leave_no_trace(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", _PRELUDE, str(LIMIT), "server", "--port", "0", "--no-auth", "--poll-timeout", "1",
         "--db", str(db)],
        cwd=REPO, env={**os.environ, **TEST_CREDENTIALS}, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    acknowledged: list[str] = []
    refused: list[str] = []
    try:
        url, _drain, _lines = read_url(proc, 30.0)
        swf = _swf(url)
        swf.register_domain(name="d", workflowExecutionRetentionPeriodInDays="1")
        swf.register_workflow_type(domain="d", name="w", version="1", defaultTaskList={"name": "t"},
                                   defaultChildPolicy="TERMINATE", defaultTaskStartToCloseTimeout="60",
                                   defaultExecutionStartToCloseTimeout="3600")
        for i in range(2000):
            try:
                _start(swf, f"wf-{i}")
            except ClientError as exc:
                assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 503, exc.response
                assert exc.response["Error"]["Code"] == "ServiceUnavailable"
                refused.append(f"wf-{i}")
                if len(refused) >= 20:
                    break
            else:
                acknowledged.append(f"wf-{i}")
        assert acknowledged and len(refused) == 20
        assert _open_ids(swf) == set(acknowledged)  # memory did not run ahead of the disk
        try:  # still full: a retry is refused the same way, not "already started"
            _start(swf, refused[0])
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ServiceUnavailable"
        else:
            acknowledged.append(refused.pop(0))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        assert proc.stderr is not None
        proc.stderr.close()
    with pipeflow_server(db) as url:  # space again: the acknowledged runs, and only they
        swf = _swf(url)
        assert _open_ids(swf) == set(acknowledged)
        _start(swf, refused[0])  # the refused start, retried, works
        assert _open_ids(swf) == set(acknowledged) | {refused[0]}


def test_refusals_while_full_are_cheap_and_end_when_space_is_back(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """After a refused commit, changes are refused at once for a moment: not a state rebuild per call."""
    import time

    from pipeflow.engine import Engine
    from pipeflow.engine import _engine

    engine = Engine(db=tmp_path / "state.sqlite")
    swf = engine.client()
    swf.register_domain(name="d", workflowExecutionRetentionPeriodInDays="1")
    swf.register_workflow_type(domain="d", name="w", version="1", defaultTaskList={"name": "t"},
                               defaultChildPolicy="TERMINATE", defaultTaskStartToCloseTimeout="60",
                               defaultExecutionStartToCloseTimeout="3600")
    loads = 0
    load = engine._load

    def counted() -> Any:
        nonlocal loads
        loads += 1
        return load()

    monkeypatch.setattr(engine, "_load", counted)
    monkeypatch.setattr(_engine, "REFUSE_AFTER_FAILED_COMMIT", 60.0)
    database = engine._store._db  # type: ignore[union-attr]
    pages = database.execute("PRAGMA page_count").fetchone()[0]
    database.execute(f"PRAGMA max_page_count={pages}")  # SQLite's own "database or disk is full"
    refused = 0
    for i in range(200):
        try:
            swf.start_workflow_execution(domain="d", workflowId=f"wf-{i}", workflowType={"name": "w", "version": "1"},
                                         input="x" * 4000)
        except ClientError as exc:
            error = exc.response["Error"]
            assert error["Code"] == "ServiceUnavailable" and "could not be saved" in error["Message"], error
            refused += 1
    assert refused >= 190 and loads == 1, (refused, loads)  # one rebuild, then refusals at once
    assert swf.count_open_workflow_executions(domain="d", startTimeFilter={"oldestDate": 0})["count"] == 200 - refused
    database.execute("PRAGMA max_page_count=1073741823")
    engine._refusing_until = time.monotonic()  # the moment passes
    swf.start_workflow_execution(domain="d", workflowId="wf-after", workflowType={"name": "w", "version": "1"})
    engine.close()
    with Engine(db=tmp_path / "state.sqlite") as again:
        count = again.client().count_open_workflow_executions(domain="d", startTimeFilter={"oldestDate": 0})["count"]
    assert count == 200 - refused + 1
