"""Hostile HTTP: every malformed or oversize request gets an SWF JSON 400, slow and idle sockets are cut,
and a flood of idle connections cannot lock a client out."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import psutil
import pytest
from botocore.config import Config

from pipeflow.engine import Engine, EngineServer
from pipeflow.engine._connections import Timeouts
from pipeflow.engine._http import MAX_BODY
from tests._support.servers import pipeflow_server_process

LIST = b'{"registrationStatus": "REGISTERED"}'
QUICK = Timeouts(head=1.0, idle=1.5, body=1.0, write=5.0)


@pytest.fixture()
def server() -> Iterator[EngineServer]:
    engine = Engine(poll_timeout=3.0)
    try:
        with EngineServer(engine, timeouts=QUICK) as srv:
            yield srv
            assert answers(srv.url), "the server must still answer after the hostile request"
    finally:
        engine.close()


def address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def request(target: str = "ListDomains", body: bytes = LIST, headers: dict[str, str] | None = None) -> bytes:
    lines = [b"POST / HTTP/1.1", b"Host: test", b"X-Amz-Target: SimpleWorkflowService." + target.encode(),
             b"Content-Type: application/x-amz-json-1.0"]
    given = {"Content-Length": str(len(body)), **(headers or {})}
    lines += [f"{name}: {value}".encode() for name, value in given.items() if value is not None]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def exchange(url: str, raw: bytes) -> tuple[int, dict[str, str], Any]:
    """Send raw bytes, read one HTTP answer; the server may close before reading them all."""
    with socket.create_connection(address(url), timeout=10) as sock:
        try:
            sock.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # it answered and closed early: the answer is still in our buffer
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        return resp.status, dict(resp.getheaders()), json.loads(resp.read())


def refused_as(url: str, raw: bytes, code: str) -> str:
    status, headers, body = exchange(url, raw)
    assert status == 400, body
    assert headers["Content-Type"] == "application/x-amz-json-1.0"
    assert body["__type"].endswith("#" + code), body
    return str(body["message"])


def answers(url: str) -> bool:
    status, _, body = exchange(url, request())
    return status == 200 and "domainInfos" in body


def closed_within(sock: socket.socket, seconds: float, drip: bytes = b"") -> float | None:
    """Seconds until the server closes `sock` (sending `drip` every 0.2 s meanwhile); None if it did not."""
    started = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - started < seconds:
        try:
            if drip:
                sock.sendall(drip)
            if sock.recv(65536) == b"":
                return time.monotonic() - started
        except TimeoutError:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - started
    return None


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"POST /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", "SerializationException"),  # request line
        (request(headers={"X-Big": "a" * 70_000}), "SerializationException"),  # one header line
        (request(headers={f"X-H{i}": "a" * 2000 for i in range(40)}), "SerializationException"),  # head in all
        (request(headers={f"X-H{i}": "a" for i in range(101)}), "SerializationException"),  # header count
        (request(headers={"Content-Length": None}), "SerializationException"),
        (request(headers={"Content-Length": "-1"}), "SerializationException"),
        (request(headers={"Content-Length": "abc"}), "SerializationException"),
        (request(headers={"Content-Length": "1e3"}), "SerializationException"),
        (request(headers={"Transfer-Encoding": "chunked"}), "SerializationException"),
        (request(headers={"Content-Length": str(10**12)}), "ValidationException"),
        (request(headers={"Content-Length": str(MAX_BODY + 1)}), "ValidationException"),
        (request(body=b"[" * 5000 + b"]" * 5000), "SerializationException"),
        (request(body=b'{"a":' * 150 + b"1" + b"}" * 150), "SerializationException"),
        (request(body=b'{"registrationStatus": "\xff\xfe"}'), "SerializationException"),
        (request(body=b"\x00" * 100), "SerializationException"),
        (b"PUT / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "UnknownOperationException"),
        (b"POST / HTTP/2.0\r\nContent-Length: 0\r\n\r\n", "SerializationException"),
        (b"POST / HTTP/1.1 extra words\r\n\r\n", "SerializationException"),
        (b"\x00\x01\x02\r\n\r\n", "SerializationException"),
    ],
    ids=["request-line", "header-line", "head-total", "header-count", "no-length", "negative-length",
         "text-length", "float-length", "chunked", "terabyte-length", "over-limit", "deep-list", "deep-object",
         "not-utf8", "nul-bytes", "put", "http2", "bad-syntax", "binary"],
)
def test_hostile_request_gets_an_swf_json_400(server: EngineServer, raw: bytes, code: str) -> None:
    refused_as(server.url, raw, code)


def test_body_at_the_limit_is_read(server: EngineServer) -> None:
    # a legal-size body reaches the engine (whose parameter check refuses the padding), not the size check
    body = b'{"registrationStatus": "REGISTERED", "x": "' + b"a" * (MAX_BODY - 60) + b'"}'
    status, _, answer = exchange(server.url, request(body=body))
    assert len(body) <= MAX_BODY and status == 400
    assert "Unknown parameter" in answer["message"]


def test_slowloris_header_drip_is_cut(server: EngineServer) -> None:
    with socket.create_connection(address(server.url)) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nX-Slow: ")
        took = closed_within(sock, 6.0, drip=b"a")
    assert took is not None and took < QUICK.head + 1.5


def test_silent_connection_is_cut(server: EngineServer) -> None:
    with socket.create_connection(address(server.url)) as sock:
        took = closed_within(sock, 6.0)
    assert took is not None and took < QUICK.head + 1.5


def test_slow_body_is_cut(server: EngineServer) -> None:
    with socket.create_connection(address(server.url)) as sock:
        sock.sendall(request(body=b"x" * 100)[:-90])
        took = closed_within(sock, 6.0)
    assert took is not None and took < QUICK.body + 1.5


def test_idle_keep_alive_is_closed_between_requests(server: EngineServer) -> None:
    conn = http.client.HTTPConnection(*address(server.url), timeout=10)
    try:
        conn.request("POST", "/", body=LIST, headers={"X-Amz-Target": "SimpleWorkflowService.ListDomains"})
        assert conn.getresponse().read()
        assert conn.sock is not None
        took = closed_within(conn.sock, 6.0)
    finally:
        conn.close()
    assert took is not None and QUICK.idle - 0.5 < took < QUICK.idle + 1.5


def test_at_the_cap_the_longest_idle_connection_gives_way() -> None:
    engine = Engine(poll_timeout=3.0)
    try:
        with EngineServer(engine, max_connections=8, timeouts=Timeouts()) as srv:
            idle = [socket.create_connection(address(srv.url)) for _ in range(8)]
            try:
                time.sleep(0.2)
                assert answers(srv.url)
                assert closed_within(idle[0], 2.0) is not None  # the oldest made room
            finally:
                for sock in idle:
                    sock.close()
    finally:
        engine.close()


def test_when_every_connection_is_inside_a_request_new_ones_are_closed_at_once() -> None:
    engine = Engine(poll_timeout=2.0)
    try:
        with EngineServer(engine, max_connections=2) as srv:
            swf = boto3.client("swf", endpoint_url=srv.url, config=Config(retries={"total_max_attempts": 1}))
            swf.register_domain(name="d", workflowExecutionRetentionPeriodInDays="1")
            polls = [threading.Thread(target=lambda: boto3.client("swf", endpoint_url=srv.url).poll_for_activity_task(
                domain="d", taskList={"name": "t"})) for _ in range(2)]
            for poll in polls:
                poll.start()
            time.sleep(0.5)  # both long polls now hold the two connections
            with socket.create_connection(address(srv.url)) as extra:
                took = closed_within(extra, 1.5)
            assert took is not None and took < 1.0
            for poll in polls:
                poll.join(timeout=10)
            assert answers(srv.url)
    finally:
        engine.close()


@pytest.mark.slow
def test_thousands_of_idle_sockets_cannot_lock_a_client_out() -> None:
    """2,000 idle sockets against a server that may open 512 files; a signed client still gets its answer."""
    with pipeflow_server_process(nofile=512) as (url, proc):
        flood: list[socket.socket] = []
        try:
            for _ in range(2000):
                sock = socket.socket()
                sock.setblocking(False)
                sock.connect_ex(address(url))  # no wait: a server that stopped accepting must not stall the test
                flood.append(sock)
            time.sleep(1.0)
            config = Config(connect_timeout=5, read_timeout=5, retries={"total_max_attempts": 1})
            started = time.monotonic()
            swf = boto3.client("swf", endpoint_url=url, config=config)
            assert swf.list_domains(registrationStatus="REGISTERED")["domainInfos"] == []
            assert time.monotonic() - started < 5.0
            server = psutil.Process(proc.pid)
            assert proc.poll() is None
            assert server.num_threads() < 512 and server.num_fds() < 512
        finally:
            for sock in flood:
                sock.close()
