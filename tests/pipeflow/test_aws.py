"""The process's boto3 clients: standard configuration, a read timeout above the long poll, throttling retried."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeflow.endpoint import error_code, s3_client, swf_client


def test_explicit_settings_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SWF", "http://127.0.0.1:1")
    swf = swf_client(endpoint_url="http://127.0.0.1:2", region="eu-west-3")
    assert swf.meta.endpoint_url == "http://127.0.0.1:2"
    assert swf.meta.region_name == "eu-west-3"


def test_environment_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SWF", "http://127.0.0.1:3")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:4")
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    assert swf_client().meta.endpoint_url == "http://127.0.0.1:3"
    assert swf_client().meta.region_name == "ap-south-1"
    assert s3_client().meta.endpoint_url == "http://127.0.0.1:4"


def test_one_client_per_settings_and_config() -> None:
    swf = swf_client(endpoint_url="http://127.0.0.1:5")
    assert swf_client(endpoint_url="http://127.0.0.1:5") is swf
    assert swf_client(endpoint_url="http://127.0.0.1:6") is not swf
    config = swf.meta.config
    assert config.read_timeout > 60  # SWF's long poll holds a request up to 60 s
    assert config.retries["mode"] == "adaptive"
    assert config.retries["total_max_attempts"] >= 5


class _Throttling(BaseHTTPRequestHandler):
    """Answers ThrottlingException to the first `throttle` requests, then an empty ListDomains."""

    throttle = 2
    seen = 0

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen += 1
        if type(self).seen <= self.throttle:
            status, body = 400, {"__type": "com.amazon.coral.availability#ThrottlingException", "message": "Rate exceeded"}
        else:
            status, body = 200, {"domainInfos": []}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def throttling_url() -> Iterator[str]:
    _Throttling.seen = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Throttling)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_throttling_is_retried_not_fatal(throttling_url: str) -> None:
    swf = swf_client(endpoint_url=throttling_url)
    assert swf.list_domains(registrationStatus="REGISTERED")["domainInfos"] == []
    assert _Throttling.seen == 3


def test_error_code() -> None:
    from botocore.exceptions import ClientError

    exc = ClientError({"Error": {"Code": "TypeDeprecatedFault", "Message": "m"}}, "StartWorkflowExecution")
    assert error_code(exc) == "TypeDeprecatedFault"
    assert error_code(ValueError("x")) is None
