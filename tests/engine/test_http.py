"""The HTTP front: SWF's JSON 1.0 protocol in front of a real engine, on loopback."""

from __future__ import annotations

import http.client
import json
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from pipeflow.engine import Engine, EngineServer
from tests._support.servers import pipeflow_server_process

TARGET = "SimpleWorkflowService."
JSON = "application/x-amz-json-1.0"


@pytest.fixture()
def server() -> Iterator[EngineServer]:
    engine = Engine(poll_timeout=2.0)
    try:
        with EngineServer(engine) as srv:
            yield srv
    finally:
        engine.close()


def client(url: str) -> Any:
    config = Config(retries={"total_max_attempts": 1}, read_timeout=75)
    return boto3.client("swf", endpoint_url=url, config=config)


def post(url: str, target: str, body: bytes | str) -> tuple[int, dict[str, str], Any]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("POST", "/", body=body, headers={"X-Amz-Target": target, "Content-Type": JSON})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), json.loads(resp.read())
    finally:
        conn.close()


def register(swf: Any, domain: str) -> None:
    swf.register_domain(name=domain, workflowExecutionRetentionPeriodInDays="1")
    swf.register_workflow_type(
        domain=domain,
        name="wf",
        version="1",
        defaultTaskList={"name": "main"},
        defaultChildPolicy="TERMINATE",
        defaultExecutionStartToCloseTimeout="300",
        defaultTaskStartToCloseTimeout="60",
    )
    swf.register_activity_type(
        domain=domain,
        name="act",
        version="1",
        defaultTaskList={"name": "main"},
        defaultTaskScheduleToStartTimeout="60",
        defaultTaskScheduleToCloseTimeout="120",
        defaultTaskStartToCloseTimeout="60",
        defaultTaskHeartbeatTimeout="60",
    )


def test_boto3_works_unchanged(server: EngineServer) -> None:
    swf = client(server.url)
    swf.register_domain(name="d", workflowExecutionRetentionPeriodInDays="1", description="desc")
    described = swf.describe_domain(name="d")
    assert described["domainInfo"]["name"] == "d"
    assert described["domainInfo"]["description"] == "desc"
    assert described["ResponseMetadata"]["HTTPHeaders"]["content-type"] == JSON
    assert [d["name"] for d in swf.list_domains(registrationStatus="REGISTERED")["domainInfos"]] == ["d"]


def test_fault_has_swf_error_body(server: EngineServer) -> None:
    status, headers, body = post(server.url, TARGET + "DescribeDomain", json.dumps({"name": "missing"}))
    assert status == 400
    assert headers["Content-Type"] == JSON
    assert body["__type"] == "com.amazonaws.swf.base.model#UnknownResourceFault"
    assert isinstance(body["message"], str) and body["message"]
    with pytest.raises(ClientError) as raised:
        client(server.url).describe_domain(name="missing")
    assert raised.value.response["Error"]["Code"] == "UnknownResourceFault"


def test_duplicate_is_a_fault_not_a_crash(server: EngineServer) -> None:
    swf = client(server.url)
    swf.register_domain(name="twice", workflowExecutionRetentionPeriodInDays="1")
    with pytest.raises(ClientError) as raised:
        swf.register_domain(name="twice", workflowExecutionRetentionPeriodInDays="1")
    assert raised.value.response["Error"]["Code"] == "DomainAlreadyExistsFault"


@pytest.mark.parametrize("target", [TARGET + "NoSuchOperation", "OtherService.ListDomains", ""])
def test_unknown_target(server: EngineServer, target: str) -> None:
    status, _, body = post(server.url, target, "{}")
    assert status == 400
    assert body["__type"].endswith("#UnknownOperationException")


@pytest.mark.parametrize("payload", ["{not json", "[1, 2]", '"text"'])
def test_malformed_body_is_a_serialization_error(server: EngineServer, payload: str) -> None:
    status, _, body = post(server.url, TARGET + "ListDomains", payload)
    assert status == 400
    assert body["__type"].endswith("#SerializationException")


@pytest.mark.parametrize("oldest", ["yesterday", 1e300, [1]])
def test_bad_timestamp_is_a_serialization_error(server: EngineServer, oldest: Any) -> None:
    request = json.dumps({"domain": "d", "startTimeFilter": {"oldestDate": oldest}})
    status, _, body = post(server.url, TARGET + "ListOpenWorkflowExecutions", request)
    assert status == 400
    assert body["__type"].endswith("#SerializationException")


def test_every_model_operation_is_routed(server: EngineServer) -> None:
    """Routing comes from botocore's SWF model: no operation of it is unknown to the front."""
    names = botocore.session.get_session().get_service_model("swf").operation_names
    assert len(names) >= 30
    for name in names:
        # no parameters: the engine refuses most, but none may be an unknown operation
        status, _, body = post(server.url, TARGET + name, "{}")
        assert status in (200, 400), (name, status, body)
        if status == 400:
            assert not body["__type"].endswith("#UnknownOperationException"), name


def test_timestamps_cross_as_epoch_seconds(server: EngineServer) -> None:
    swf = client(server.url)
    register(swf, "ts")
    run = swf.start_workflow_execution(domain="ts", workflowId="w1", workflowType={"name": "wf", "version": "1"})
    now = datetime.now(timezone.utc)
    # boto3 serialises the filter's datetimes as epoch numbers: the front must read them
    found = swf.list_open_workflow_executions(domain="ts", startTimeFilter={"oldestDate": now - timedelta(hours=1)})
    assert [i["execution"]["runId"] for i in found["executionInfos"]] == [run["runId"]]
    started = found["executionInfos"][0]["startTimestamp"]
    assert abs((started - now).total_seconds()) < 60
    later = swf.list_open_workflow_executions(domain="ts", startTimeFilter={"oldestDate": now + timedelta(hours=1)})
    assert later["executionInfos"] == []
    epoch = {"oldestDate": time.time() - 3600, "latestDate": time.time() + 3600}
    request = json.dumps({"domain": "ts", "startTimeFilter": epoch})
    status, _, body = post(server.url, TARGET + "ListOpenWorkflowExecutions", request)
    assert status == 200
    assert isinstance(body["executionInfos"][0]["startTimestamp"], float)


def test_keep_alive_serves_many_requests_on_one_connection(server: EngineServer) -> None:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        sockets = set()
        for _ in range(3):
            headers = {"X-Amz-Target": TARGET + "ListDomains"}
            conn.request("POST", "/", body='{"registrationStatus": "REGISTERED"}', headers=headers)
            resp = conn.getresponse()
            assert resp.status == 200
            assert json.loads(resp.read()) == {"domainInfos": []}
            sockets.add(id(conn.sock))
        assert len(sockets) == 1
    finally:
        conn.close()


def test_long_poll_waits_while_other_requests_are_served(server: EngineServer) -> None:
    swf = client(server.url)
    register(swf, "lp")
    got: list[dict[str, Any]] = []
    poller = threading.Thread(
        target=lambda: got.append(client(server.url).poll_for_activity_task(domain="lp", taskList={"name": "main"}))
    )
    poller.start()
    time.sleep(0.2)  # the poller is now blocked in the server
    run = swf.start_workflow_execution(domain="lp", workflowId="w", workflowType={"name": "wf", "version": "1"})
    decision = swf.poll_for_decision_task(domain="lp", taskList={"name": "main"})
    attributes = {"activityType": {"name": "act", "version": "1"}, "activityId": "a1", "input": "hi"}
    swf.respond_decision_task_completed(
        taskToken=decision["taskToken"],
        decisions=[{"decisionType": "ScheduleActivityTask", "scheduleActivityTaskDecisionAttributes": attributes}],
    )
    poller.join(timeout=30)
    assert not poller.is_alive()
    assert got[0]["activityId"] == "a1" and got[0]["input"] == "hi"
    assert got[0]["workflowExecution"]["runId"] == run["runId"]


def test_one_debug_line_per_request_without_credentials(
    server: EngineServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="pipeflow.engine.http"):
        swf = client(server.url)
        swf.list_domains(registrationStatus="REGISTERED")
        with pytest.raises(ClientError):
            swf.describe_domain(name="missing")
    lines = [r.getMessage() for r in caplog.records if r.name == "pipeflow.engine.http"]
    assert len(lines) == 2
    assert lines[0].startswith("ListDomains 200 ") and lines[0].endswith("ms")
    assert lines[1].startswith("DescribeDomain 400 ")
    assert not any("testing" in line or "Authorization" in line for line in lines)


def test_engine_bug_is_a_500_internal_failure() -> None:
    class Broken:
        def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
            raise RuntimeError("bug")

    with EngineServer(Broken()) as srv:
        status, _, body = post(srv.url, TARGET + "ListDomains", "{}")
    assert status == 500
    assert body["__type"].endswith("#InternalFailure")


def test_stop_closes_listener_and_idle_connections() -> None:
    engine = Engine(poll_timeout=2.0)
    srv = EngineServer(engine).start()
    host, port = srv.url.removeprefix("http://").rsplit(":", 1)
    idle = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        idle.request("POST", "/", body="{}", headers={"X-Amz-Target": TARGET + "ListDomains"})
        idle.getresponse().read()  # the connection is now accepted and kept alive
        srv.stop()
        assert idle.sock is not None
        assert idle.sock.recv(1) == b""  # the server closed it
        with pytest.raises(OSError):
            socket.create_connection((host, int(port)), timeout=2).close()
    finally:
        idle.close()
        engine.close()


@pytest.mark.slow
def test_server_command_sigterm_keeps_state(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite"
    with pipeflow_server_process(db) as (url, proc):
        assert not url.endswith(":0")
        swf = client(url)
        swf.register_domain(name="kept", workflowExecutionRetentionPeriodInDays="1")
        polled: list[Any] = []
        poller = threading.Thread(
            target=lambda: polled.append(swf.poll_for_activity_task(domain="kept", taskList={"name": "t"}))
        )
        poller.start()
        time.sleep(0.3)  # the poll now waits in the server
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        poller.join(timeout=10)
        assert "taskToken" not in polled[0]  # the waiting poll got SWF's empty answer, not a reset
    with pipeflow_server_process(db) as (url, proc):
        assert client(url).describe_domain(name="kept")["domainInfo"]["status"] == "REGISTERED"


@pytest.mark.slow
def test_server_command_port_in_use_exits_with_engine_code() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "pipeflow", "server", "--port", str(port)],
            capture_output=True,
            timeout=60,
            cwd=Path(__file__).parent.parent.parent,
        )
    assert done.returncode == 4
    assert b"cannot listen on 127.0.0.1:" in done.stderr
