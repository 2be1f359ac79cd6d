"""SigV4 on the HTTP front, over real HTTP: signed boto3 works; unsigned, wrong, stale requests change nothing."""

from __future__ import annotations

import http.client
import json
import logging
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials as BotoCredentials
from botocore.exceptions import ClientError

from pipeflow.endpoint import client_config
from pipeflow._errors import EngineError
from pipeflow.engine import Credentials, Engine, EngineServer
from tests._support.servers import pipeflow_server_process

TARGET = "SimpleWorkflowService."
JSON = "application/x-amz-json-1.0"
ROOT = Path(__file__).parent.parent.parent
NO_CREDENTIALS: dict[str, str | None] = {
    "AWS_ACCESS_KEY_ID": None,
    "AWS_SECRET_ACCESS_KEY": None,
    "AWS_SESSION_TOKEN": None,
    "AWS_PROFILE": None,
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": None,
    "AWS_CONTAINER_CREDENTIALS_FULL_URI": None,
    "AWS_WEB_IDENTITY_TOKEN_FILE": None,
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture()
def server() -> Iterator[EngineServer]:
    engine = Engine(poll_timeout=1.0)
    try:
        with EngineServer(engine, auth=Credentials("testing", "testing")) as srv:
            yield srv
    finally:
        engine.close()


def client(url: str, key: str = "testing", secret: str = "testing", token: str | None = None,
           config: Any = None) -> Any:
    config = config or Config(retries={"total_max_attempts": 1}, read_timeout=75)
    return boto3.client("swf", endpoint_url=url, region_name="eu-central-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, aws_session_token=token, config=config)


def raw_post(
    url: str, target: str, body: str, *, secret: str | None = None, at: datetime | None = None
) -> tuple[int, Any]:
    """POST one request, unsigned or signed by botocore (with `secret`, dated `at`)."""
    hostport = url.removeprefix("http://")
    headers = {"Host": hostport, "X-Amz-Target": target, "Content-Type": JSON}
    if secret is not None:
        request = AWSRequest(method="POST", url=url + "/", data=body.encode(), headers=headers)
        when = at or datetime.now(timezone.utc)
        with mock.patch("botocore.auth.get_current_datetime", return_value=when):
            SigV4Auth(BotoCredentials("testing", secret), "swf", "us-east-1").add_auth(request)
        headers = dict(request.headers.items())
    host, port = hostport.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("POST", "/", body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def code_of(call: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(raised.value.response["Error"]["Code"])


def domains(swf: Any) -> list[str]:
    return sorted(d["name"] for d in swf.list_domains(registrationStatus="REGISTERED")["domainInfos"])


def test_signed_works_and_refused_requests_change_nothing(
    server: EngineServer, caplog: pytest.LogCaptureFixture
) -> None:
    good = client(server.url)
    with caplog.at_level(logging.DEBUG, logger="pipeflow"):
        good.register_domain(name="ok", workflowExecutionRetentionPeriodInDays="1")
        register = TARGET + "RegisterDomain"
        request = json.dumps({"name": "bad", "workflowExecutionRetentionPeriodInDays": "1"})
        assert code_of(lambda: client(server.url, secret="guess").register_domain(
            name="bad", workflowExecutionRetentionPeriodInDays="1")) == "InvalidSignatureException"
        assert code_of(lambda: client(server.url, key="AKIDOTHER").register_domain(
            name="bad", workflowExecutionRetentionPeriodInDays="1")) == "UnrecognizedClientException"
        status, body = raw_post(server.url, register, request)
        assert (status, body["__type"]) == (400, "com.amazon.coral.service#MissingAuthenticationTokenException")
        stale = datetime.fromtimestamp(datetime.now(timezone.utc).timestamp() - 20 * 60, timezone.utc)
        status, body = raw_post(server.url, register, request, secret="testing", at=stale)
        assert status == 400 and body["__type"].endswith("#InvalidSignatureException")
        assert body["message"].startswith("Signature expired")
        status, body = raw_post(server.url, register, request, secret="testing")  # the same, fresh
        assert status == 200, body
    assert domains(good) == ["bad", "ok"]  # only the fresh, well-signed "bad" got in
    assert not any("testing" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("wrong", [{"secret": "guess"}, {"key": "AKIDOTHER"}])
def test_auth_errors_are_not_retried(server: EngineServer, wrong: dict[str, str]) -> None:
    swf = client(server.url, config=client_config(), **wrong)  # pipeflow's own: adaptive, 10 attempts
    sent: list[str] = []
    swf.meta.events.register("before-send.swf.*", lambda **kwargs: sent.append("sent"))
    code_of(lambda: swf.list_domains(registrationStatus="REGISTERED"))
    assert sent == ["sent"]


def test_session_token_must_match() -> None:
    engine = Engine(poll_timeout=1.0)
    try:
        with EngineServer(engine, auth=Credentials("ASIATEMP", "temp-secret", "the-token")) as srv:
            ok = client(srv.url, key="ASIATEMP", secret="temp-secret", token="the-token")
            assert domains(ok) == []
            without = client(srv.url, key="ASIATEMP", secret="temp-secret")
            assert code_of(lambda: domains(without)) == "UnrecognizedClientException"
            other = client(srv.url, key="ASIATEMP", secret="temp-secret", token="forged")
            assert code_of(lambda: domains(other)) == "UnrecognizedClientException"
    finally:
        engine.close()


def test_engine_server_without_auth_is_loopback_only() -> None:
    engine = Engine()
    try:
        with pytest.raises(EngineError, match="without authentication"):
            EngineServer(engine, host="0.0.0.0")
    finally:
        engine.close()


@pytest.mark.slow
def test_pipeflow_server_signs_like_aws_and_plain_boto3_works() -> None:
    """simpleflow's way: boto3.client("swf", endpoint_url=...) with the credentials in the environment."""
    with pipeflow_server_process(extra=("--poll-timeout", "1")) as (url, _proc):
        swf = boto3.client("swf", endpoint_url=url)
        swf.register_domain(name="plain", workflowExecutionRetentionPeriodInDays="1")
        swf.register_workflow_type(
            domain="plain", name="wf", version="1", defaultTaskList={"name": "decide"},
            defaultChildPolicy="TERMINATE", defaultExecutionStartToCloseTimeout="300",
            defaultTaskStartToCloseTimeout="60",
        )
        run = swf.start_workflow_execution(domain="plain", workflowId="w1", workflowType={"name": "wf", "version": "1"})
        task = swf.poll_for_decision_task(domain="plain", taskList={"name": "decide"}, identity="plain-boto3")
        assert task["workflowExecution"]["runId"] == run["runId"] and task["taskToken"]
        status, body = raw_post(url, TARGET + "ListDomains", '{"registrationStatus": "REGISTERED"}')
        assert (status, body["__type"].split("#")[1]) == (400, "MissingAuthenticationTokenException")


@pytest.mark.slow
def test_no_auth_serves_unsigned_requests_on_loopback() -> None:
    with pipeflow_server_process(extra=("--no-auth",)) as (url, _proc):
        status, body = raw_post(url, TARGET + "ListDomains", '{"registrationStatus": "REGISTERED"}')
    assert (status, body) == (200, {"domainInfos": []})


def test_no_auth_on_a_public_host_is_a_usage_error() -> None:
    done = subprocess.run([sys.executable, "-m", "pipeflow", "server", "--host", "0.0.0.0", "--port", "0",
                           "--no-auth"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--no-auth" in lines[0] and "0.0.0.0" in lines[0]


@pytest.mark.slow
def test_public_host_with_auth_is_allowed() -> None:
    with pipeflow_server_process(extra=("--host", "0.0.0.0")) as (url, _proc):
        port = url.rsplit(":", 1)[1]
        assert domains(client(f"http://127.0.0.1:{port}")) == []


@pytest.mark.slow
def test_without_credentials_a_private_key_pair_is_generated_and_kept(tmp_path: Path) -> None:
    banner: list[str] = []
    with pipeflow_server_process(env=NO_CREDENTIALS, umask=0, cwd=tmp_path, banner=banner) as (url, _proc):
        exports = dict(re.findall(r"^export (AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY)=(\S+)$", "\n".join(banner), re.M))
        assert set(exports) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
        key_file = tmp_path / ".pipeflow" / "server-credentials"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
        assert exports["AWS_SECRET_ACCESS_KEY"] in key_file.read_text()
        generated = client(url, exports["AWS_ACCESS_KEY_ID"], exports["AWS_SECRET_ACCESS_KEY"])
        generated.register_domain(name="d", workflowExecutionRetentionPeriodInDays="1")
        assert code_of(lambda: domains(client(url))) == "UnrecognizedClientException"
    again: list[str] = []
    with pipeflow_server_process(env=NO_CREDENTIALS, cwd=tmp_path, banner=again) as (url, _proc):
        assert f"export AWS_ACCESS_KEY_ID={exports['AWS_ACCESS_KEY_ID']}" in again  # the same pair, reused
        assert domains(client(url, exports["AWS_ACCESS_KEY_ID"], exports["AWS_SECRET_ACCESS_KEY"])) == []


@pytest.mark.slow
def test_generated_key_pair_sits_beside_the_database(tmp_path: Path) -> None:
    db = tmp_path / "state" / "engine.sqlite"
    with pipeflow_server_process(db, env=NO_CREDENTIALS, umask=0, cwd=tmp_path):
        key_file = db.parent / "server-credentials"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert not (tmp_path / ".pipeflow").exists()


def test_loopback_names() -> None:
    from pipeflow.engine._auth import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert is_loopback("127.3.2.1") and is_loopback("[::1]")
    assert not is_loopback("0.0.0.0") and not is_loopback("") and not is_loopback("::")
    assert not is_loopback("10.1.2.3") and not is_loopback("192.168.0.1") and not is_loopback("no-such-host.invalid")
