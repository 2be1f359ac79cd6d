"""Start and stop real servers on loopback for the tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from pipeflow.testing import read_url, stop_server

HERE = Path(__file__).parent
# What `pipeflow server` (and moto) are started with; clients in the tests sign with the same.
TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# `python -m pipeflow ARGS...` with a limit on open files (argv[1], "-": unchanged) and a umask (argv[2]).
_PRELUDE = (
    "import os, resource, runpy, sys; "
    "soft, mask = sys.argv.pop(1), sys.argv.pop(1); "
    "soft == '-' or resource.setrlimit(resource.RLIMIT_NOFILE, "
    "(int(soft), resource.getrlimit(resource.RLIMIT_NOFILE)[1])); "
    "mask == '-' or os.umask(int(mask, 8)); "
    "runpy.run_module('pipeflow', run_name='__main__')"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start within {timeout}s")


@contextmanager
def moto_server(empty_poll_delay: float | None = None) -> Iterator[str]:
    """A moto server (SWF and S3) on 127.0.0.1, with a lock around its SWF backend.

    `empty_poll_delay`: seconds an empty poll waits before it returns (default: moto's 1 s).
    """
    port = free_port()
    env = dict(os.environ, **TEST_CREDENTIALS)
    extra = [] if empty_poll_delay is None else ["--empty-poll-delay", str(empty_poll_delay)]
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "motoserver.py"), str(port), *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(proc)


def moto_reset(url: str) -> None:
    req = urllib.request.Request(f"{url}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


@contextmanager
def pipeflow_server(db: str | os.PathLike[str] | None = None, timeout: float = 30.0) -> Iterator[str]:
    """`python -m pipeflow server` as a real subprocess on a free loopback port; yields its URL.

    The URL is read from the line the server prints once it is serving; its
    stderr is then drained in the background so its logging can never block it.
    """
    with pipeflow_server_process(db, timeout=timeout) as (url, _proc):
        yield url


@contextmanager
def pipeflow_server_process(
    db: str | os.PathLike[str] | None = None,
    timeout: float = 30.0,
    extra: tuple[str, ...] = (),
    env: Mapping[str, str | None] | None = None,
    nofile: int | None = None,
    umask: int | None = None,
    cwd: str | os.PathLike[str] | None = None,
    banner: list[str] | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Like `pipeflow_server`, also yielding the process (to signal or kill it).

    `extra`: more options; `env`: changes to the environment (None removes a variable) over
    `TEST_CREDENTIALS`, so clients signing with those are accepted; `nofile`: a lower limit
    on the server's open files; `umask`: its umask; `cwd`: where it runs (default: the repository); `banner`:
    receives the lines it printed up to the "listening on" one.
    """
    start = ["-m", "pipeflow"]
    if nofile is not None or umask is not None:
        start = ["-c", _PRELUDE, "-" if nofile is None else str(nofile), "-" if umask is None else f"{umask:o}"]
    args = [sys.executable, *start, "server", "--port", "0", *extra]
    if db is not None:
        args += ["--db", os.fspath(db)]
    environment = {**os.environ, **TEST_CREDENTIALS}
    environment.pop("AWS_SESSION_TOKEN", None)
    environment.pop("AWS_PROFILE", None)
    for name, value in (env or {}).items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    proc = subprocess.Popen(
        args, cwd=cwd if cwd is not None else HERE.parent.parent, env=environment,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    drain: threading.Thread | None = None
    try:
        url, drain, lines = read_url(proc, timeout)
        if banner is not None:
            banner.extend(lines)
        yield url, proc
    finally:
        stop_server(proc, drain)
