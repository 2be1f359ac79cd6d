"""Per-attempt logs in the worker: captured in the child (Python streams, fds, logging), bounded, stored, linked."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import converters
import pipeflow as pf
from pipeflow import wire
from pipeflow.worker import Job, Pool, Registry


@pf.task
def noisy(x: int) -> int:
    print(f"out {x}")
    print(f"err {x}", file=sys.stderr)
    logging.getLogger("some.library").info("info %d", x)
    logging.getLogger("some.library").debug("debug %d", x)
    os.write(1, b"fd one\n")
    subprocess.run([sys.executable, "-c", "print('from a program')"], check=True)
    return x + 1


@pf.task
def quiet(x: int) -> int:
    return x


@pf.task
def failing(x: int) -> int:
    for i in range(30):
        print(f"line {i}")
    raise ValueError("no")


TASKS = [noisy, quiet, failing]


# -- the formats (pure) ----------------------------------------------------------------------------


def test_log_key_round_trip() -> None:
    assert wire.log_key("2.map.17#3") == "logs/2.map.17@3.log"
    assert wire.parse_log_key("logs/2.map.17@3.log") == ("2.map.17", 3)
    assert wire.parse_log_key("other/2@3.log") is None
    assert wire.log_key("no/attempt") == "logs/no_attempt@1.log"  # never climbs out of the folder


def test_the_cap_keeps_the_tail_and_says_what_was_dropped() -> None:
    data = b"".join(b"%08d\n" % i for i in range(300_000))  # 2.7 MB
    text = wire.bound_log(data)
    first, rest = text.split("\n", 1)
    assert "bytes dropped" in first
    assert len(rest.encode()) <= wire.LOG_CAP
    assert rest.endswith("00299999\n") and rest[:8].isdigit()  # starts on a whole line
    assert wire.bound_log(b"short\n") == "short\n"


def test_tails() -> None:
    text = "".join(f"line {i}\n" for i in range(100))
    assert wire.log_tail(text) == "".join(f"line {i}\n" for i in range(80, 100))
    assert len(wire.log_tail("x" * 10_000, lines=None).encode()) == wire.TAIL_BYTES
    doc = wire.with_log({"type": "E"}, text, None)
    assert "log" not in doc and doc["log_tail"].startswith("line ")  # no store: the last 4 KiB
    doc = wire.with_log({"type": "E"}, text, "file:///x/logs/1@1.log")
    assert doc["log"] == "file:///x/logs/1@1.log" and doc["log_tail"].count("\n") == wire.TAIL_LINES


# -- the capture, in real worker processes ---------------------------------------------------------


class Outcomes:
    def __init__(self) -> None:
        self.done: dict[int, list[Any]] = {}
        self.cond = threading.Condition()

    def on_done(self, job: int, outcome: list[Any]) -> None:
        with self.cond:
            self.done[job] = outcome
            self.cond.notify_all()

    def wait(self, job: int) -> list[Any]:
        with self.cond:
            assert self.cond.wait_for(lambda: job in self.done, timeout=60)
            return self.done[job]


@pytest.fixture()
def outcomes() -> Outcomes:
    return Outcomes()


@pytest.fixture()
def store(tmp_path: Path) -> str:
    return str(wire.run_scope(str(tmp_path / "payloads"), "wf", "run"))


@pytest.fixture()
def pool(outcomes: Outcomes, store: str) -> Iterator[Pool]:
    pool = Pool(Registry.from_tasks(TASKS), 1, on_done=outcomes.on_done, on_beat=lambda job, details: None,
                start_method="fork", store=store)
    pool.start()
    pool.wait_ready()
    yield pool
    pool.stop()


def job(n: int, task: Any, value: Any, attempt: int = 1, store: str | None = None) -> Job:
    data = wire.encode_activity_input(step="1", attempt=attempt, task=task.name, store=None, piped=None,
                                      args=[converters.dumps(value)], kwargs={})
    return Job(n, task.name, task.version, f"1#{attempt}", data, store)


def read(store: str, step: str, attempt: int) -> str | None:
    """An attempt's log as readers find it (a local store keeps each process's logs in one segment)."""
    logs = wire.read_logs(store)
    assert logs is not None
    return logs.get((step, attempt))


@pytest.mark.slow
def test_an_attempts_output_is_its_log(pool: Pool, outcomes: Outcomes, store: str,
                                       capfd: pytest.CaptureFixture[str]) -> None:
    pool.submit(job(1, noisy, 5))
    assert outcomes.wait(1)[0] == "ok"
    text = read(store, "1", 1)
    assert text is not None
    for line in ("out 5", "err 5", "INFO some.library: info 5", "fd one", "from a program"):
        assert line in text
    assert "debug 5" not in text
    out, err = capfd.readouterr()
    assert "out 5" not in out + err  # nothing reaches the worker's stdout or stderr
    pool.submit(job(2, quiet, 1, attempt=2))
    assert outcomes.wait(2)[0] == "ok"
    assert read(store, "1", 2) is None  # nothing written, nothing stored


@pytest.mark.slow
def test_a_failures_details_carry_the_tail_and_the_link(pool: Pool, outcomes: Outcomes, store: str) -> None:
    pool.submit(job(1, failing, 0))
    outcome = outcomes.wait(1)
    assert outcome[0] == "fail"
    doc = wire.decode_failure(outcome[2], store)
    assert doc["type"] == "ValueError"
    assert doc["log_tail"] == "".join(f"line {i}\n" for i in range(10, 30))
    assert "/logs/" in doc["log"] and doc["log"].endswith(".logs")  # this process's segment of the run
    assert "line 0\n" in (read(store, "1", 1) or "")


@pytest.mark.slow
def test_without_a_store_a_failure_keeps_the_tail_inline(outcomes: Outcomes) -> None:
    pool = Pool(Registry.from_tasks(TASKS), 1, on_done=outcomes.on_done, on_beat=lambda job, details: None,
                start_method="fork")
    pool.start()
    try:
        pool.wait_ready()
        pool.submit(job(1, failing, 0))
        doc = wire.decode_failure(outcomes.wait(1)[2])
    finally:
        pool.stop()
    assert "log" not in doc
    assert doc["log_tail"] == "".join(f"line {i}\n" for i in range(30))


def test_a_segment_holds_many_attempts_and_a_torn_or_forged_record_ends_it(tmp_path: Path) -> None:
    scope = str(wire.run_scope(str(tmp_path / "payloads"), "wf", "run"))
    for attempt in range(1, 4):
        uri = wire.save_log(scope, f"2.map.7#{attempt}", f"attempt {attempt}\n")
    assert uri.endswith(".logs")
    assert wire.read_logs(scope) == {("2.map.7", n): f"attempt {n}\n" for n in range(1, 4)}
    assert wire.read_logs(scope, {("2.map.7", 2)}) == {("2.map.7", 2): "attempt 2\n"}
    (segment,) = (tmp_path / "payloads" / "wf").rglob("*.logs")
    assert oct(segment.stat().st_mode & 0o777) == "0o600"
    good = segment.read_bytes()
    for tail in (b'#log {"step":"9","attempt":1,"size":100}\nshort',  # torn by a killed process
                 b'#log {"step":"9","attempt":1,"size":99999999999}\n',  # a forged size
                 b"#log not json\n", b"garbage\n"):
        segment.write_bytes(good + tail)
        assert wire.read_logs(scope) == {("2.map.7", n): f"attempt {n}\n" for n in range(1, 4)}


def test_a_store_that_cannot_append_keeps_an_object_per_attempt() -> None:
    scope = "memory://logs-test/wf/run"
    uri = wire.save_log(scope, "1#2", "hello\n")
    assert uri.endswith("logs/1@2.log") or uri.endswith("logs/1%402.log")
    assert wire.read_logs(scope) == {("1", 2): "hello\n"}


def test_logs_in_an_s3_store_are_an_object_per_attempt(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_url)
    bucket = "logs-" + uuid.uuid4().hex[:8]
    s3 = boto3.client("s3", endpoint_url=moto_url)
    s3.create_bucket(Bucket=bucket)
    scope = str(wire.run_scope(f"s3://{bucket}/runs", "wf", "run"))
    for attempt in (1, 2):
        uri = wire.save_log(scope, f"3.map.1#{attempt}", f"try {attempt}\n")
        assert uri.startswith(f"s3://{bucket}/runs/wf/") and uri.endswith(f"logs/3.map.1@{attempt}.log")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert [k.rsplit("/", 1)[-1] for k in keys] == ["3.map.1@1.log", "3.map.1@2.log"]
    assert wire.read_logs(scope) == {("3.map.1", 1): "try 1\n", ("3.map.1", 2): "try 2\n"}
