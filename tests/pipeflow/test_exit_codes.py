"""The exit-code table (README "Exit codes", `pipeflow.cli._exit`), row by row, through `python -m pipeflow`.

Each row runs the real command in a subprocess and checks the code and the one `Error:` line on
stderr (never a Python traceback of pipeflow's own).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

PIPELINES = """
import pipeflow as pf

class Thing:
    pass

@pf.task
def double(x):
    return (x or 1) * 2

@pf.task
def explode(x):
    raise ValueError(f"cannot handle {x}")

@pf.task
def objects(x):
    return {Thing(), Thing()}

pipeline = pf.chain(double, double)
failing = pf.chain(double, explode)
unencodable = pf.chain(objects)
waiting = pf.chain(double, pf.wait_signal("go"), double)
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with the pipelines file and one completed run in its ./.pipeflow/."""
    path = tmp_path_factory.mktemp("exit_codes")
    (path / "pipes.py").write_text(textwrap.dedent(PIPELINES))
    assert pipeflow(path, "run", "pipes.py", "--no-progress").returncode == 0
    return path


def _env() -> dict[str, str]:
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    env.pop("PIPEFLOW_STORE", None)
    return env


def pipeflow(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeflow", *args], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=60)


def error_line(stderr: str) -> str:
    """The one line of stderr that starts with `Error:` (there must be exactly one)."""
    lines = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, stderr
    return lines[0]


ROWS = [
    pytest.param(0, ["run", "pipes.py", "--no-progress"], None, id="0-completed"),
    pytest.param(1, ["run", "pipes.py:failing", "--no-progress"],
                 "step 1, task pipes.explode, attempt 1: ValueError: cannot handle 2", id="1-step-failed"),
    pytest.param(2, ["run", "absent.py"], "No pipeline file at", id="2-bad-file"),
    pytest.param(2, ["run", "pipes.py", "--input", "{not json"], "--input is not JSON", id="2-bad-input"),
    pytest.param(2, ["run", "pipes.py", "--no-such-flag"], "No such option '--no-such-flag'", id="2-bad-flag"),
    pytest.param(2, ["status", "no-such-run"], "no run 'no-such-run'", id="2-unknown-run"),
    pytest.param(2, ["run", "pipes.py", "--store", "ftp://x/y"], "'ftp://x/y' is not a store", id="2-bad-store"),
    pytest.param(3, ["run", "pipes.py:unencodable", "--no-progress"], "EncodeError: the json codec cannot encode",
                 id="3-unencodable-result"),
]


@pytest.mark.parametrize("code, args, message", ROWS)
def test_exit_code(workdir: Path, code: int, args: list[str], message: str | None) -> None:
    done = pipeflow(workdir, *args)
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    if message is None:
        assert json.loads(done.stdout) == 4
    else:
        assert message in error_line(done.stderr)


class _Refusing(BaseHTTPRequestHandler):
    """An SWF endpoint that refuses every call, as SWF refuses a caller it does not allow."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"__type": "com.amazon.coral.service#AccessDeniedException",
                           "message": "User is not authorized to perform: swf:RegisterDomain"}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def refusing_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_exit_code_4_engine_refused(workdir: Path, refusing_url: str) -> None:
    done = pipeflow(workdir, "run", "pipes.py", "--no-progress", "--backend", "swf", "--domain", "d",
                    "--endpoint-url", refusing_url)
    assert done.returncode == 4, done.stderr
    assert "Traceback" not in done.stderr
    assert "not authorized" in error_line(done.stderr)


def _start_waiting(workdir: Path) -> tuple[subprocess.Popen[str], str]:
    """`pipeflow run pipes.py:waiting` in the background, and its run id once it is open."""
    process = subprocess.Popen([sys.executable, "-m", "pipeflow", "run", "pipes.py:waiting", "--no-progress"],
                               cwd=workdir, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listed = pipeflow(workdir, "runs", "--status", "RUNNING", "--json")
        rows = json.loads(listed.stdout) if listed.returncode == 0 else []
        if rows:
            return process, rows[0]["run_id"]
        time.sleep(0.2)
    process.kill()
    raise AssertionError("the waiting run did not start")


def test_exit_code_5_canceled(workdir: Path) -> None:
    process, run_id = _start_waiting(workdir)
    try:
        assert pipeflow(workdir, "cancel", run_id, "--reason", "not needed").returncode == 0
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 5, stderr
    assert "Traceback" not in stderr
    assert f"run {run_id} was canceled: not needed" in error_line(stderr)


def test_exit_code_130_interrupted(workdir: Path) -> None:
    process, run_id = _start_waiting(workdir)
    try:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert f"interrupted: continue with  pipeflow resume pipes.py:waiting {run_id}" in stderr
    pipeflow(workdir, "cancel", run_id)  # leave no open run for the next test
