"""`pipeflow server` in a subprocess on a free loopback port, for tests."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

STARTUP_TIMEOUT = 30.0


@dataclass
class Server:
    """A running `pipeflow server`: where it listens and the credentials it accepts."""

    endpoint_url: str
    credentials: dict[str, str]
    process: subprocess.Popen[bytes] = field(repr=False)

    def client(self, **options: Any) -> Any:
        """A `pf.Client` of this server (`workers=1` to decide and run steps in this process)."""
        import pipeflow

        return pipeflow.Client(self.endpoint_url, **options)

    @property
    def environment(self) -> dict[str, str]:
        """The variables that point a `pipeflow` command or boto3 at this server."""
        return {**self.credentials, "AWS_ENDPOINT_URL_SWF": self.endpoint_url}


@contextmanager
def start_server(*options: str, env: Mapping[str, str] | None = None,
                 timeout: float = STARTUP_TIMEOUT) -> Iterator[Server]:
    """Run `python -m pipeflow server --port 0 OPTIONS...` until the block ends (state in memory by default).

    It accepts requests signed with a key pair made for it (`Server.credentials`).
    """
    credentials = {
        "AWS_ACCESS_KEY_ID": "PFTEST" + secrets.token_hex(7).upper(),
        "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(30),
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
    }
    environment = {**os.environ, **(env or {}), **credentials}
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
        environment.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeflow", "server", "--port", "0", *options], env=environment,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    drain: threading.Thread | None = None
    try:
        url, drain, _lines = read_url(proc, timeout)
        yield Server(url, credentials, proc)
    finally:
        stop_server(proc, drain)


def stop_server(proc: subprocess.Popen[bytes], drain: threading.Thread | None = None) -> None:
    """Stop a server started with its stderr drained by `read_url`: SIGTERM, SIGKILL after 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if drain is not None:
        drain.join(timeout=10)  # it ends at EOF, now that the server is gone
    if proc.stderr is not None:
        proc.stderr.close()


def read_url(proc: subprocess.Popen[bytes], timeout: float) -> tuple[str, threading.Thread, list[str]]:
    """Wait for the server's "... listening on http://HOST:PORT" line, then drain its stderr in a thread.

    Returns the URL, the draining thread and the lines printed up to that one. The server's
    logging can never block it on a full pipe.
    """
    assert proc.stderr is not None
    stderr = proc.stderr
    found: list[str] = []
    lines: list[bytes] = []
    ready = threading.Event()

    def read() -> None:
        for raw in stderr:
            if not found:
                lines.append(raw)
                match = re.search(rb"listening on (http://\S+)", raw)
                if match:
                    found.append(match.group(1).decode())
                    ready.set()
        ready.set()

    drain = threading.Thread(target=read, name="pipeflow-server-stderr", daemon=True)
    drain.start()
    if not ready.wait(timeout) or not found:
        proc.kill()
        drain.join(timeout=10)
        output = b"".join(lines).decode(errors="replace")
        raise RuntimeError(f"pipeflow server did not start (exit code {proc.wait()}):\n{output}")
    return found[0], drain, [line.decode(errors="replace").rstrip("\n") for line in lines]
