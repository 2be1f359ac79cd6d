"""A folder with runs of every kind, held by a notebook-style `pf.Client`, and `pipeflow ui` serving it.

The Client in this process holds the embedded state (as a notebook would), so the console, a
`pipeflow ui` subprocess started in the folder, reads it through the control inbox. The runs: the
pandas ETL example (completed), a failing chain (failed, with a log line), a stage (completed),
a signal gate canceled, and three gates left open (one to cancel from the page, one to signal,
one to stay open).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import pipeflow as pf
from tests._support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # screenshots of the browser tests (gitignored)


@dataclass
class Site:
    folder: Path
    url: str
    runs: dict[str, Any]  # name -> Run

    def ids(self, name: str) -> dict[str, str]:
        run = self.runs[name]
        return {"wf": run.workflow_id, "run": run.run_id}


def get(url: str, headers: dict[str, str] | None = None, data: bytes | None = None) -> tuple[int, str, Any]:
    """(status, body, headers) of a request, errors included; redirects are not followed."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.read().decode(), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), exc.headers


def start_ui(folder: Path, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with open(folder / f"ui-{port}.log", "wb") as log:  # its address and request lines, for a failing test
        proc = subprocess.Popen([sys.executable, "-m", "pipeflow", "ui", "--no-open", "--port", str(port), *args],
                                cwd=folder, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/favicon-probe", timeout=2)
        except urllib.error.HTTPError:
            return proc, url  # it answers (a 404, or a 401 without the token)
        except OSError:
            assert proc.poll() is None, (folder / f"ui-{port}.log").read_text()
            time.sleep(0.1)
    raise AssertionError("pipeflow ui did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("ui")
    shutil.copy(ROOT / "examples" / "pipelines" / "etl.py", folder / "etl.py")
    shutil.copy(Path(__file__).resolve().parent / "pipes.py", folder / "pipes.py")
    client = pf.Client(workers=2, state_dir=folder / ".pipeflow")
    runs: dict[str, Any] = {}
    try:
        runs["etl"] = client.submit(str(folder / "etl.py"), {"rows": 1000, "seed": 7})
        runs["broken"] = client.submit(str(folder / "pipes.py") + ":broken", 1)
        runs["staged"] = client.submit(str(folder / "pipes.py") + ":staged", 1)
        runs["canceled"] = client.submit(str(folder / "pipes.py") + ":gate", 5)
        for name in ("to_cancel", "to_signal", "open"):
            runs[name] = client.submit(str(folder / "pipes.py") + ":gate", 1)
        for name in ("etl", "broken", "staged"):
            try:
                runs[name].wait(120, progress=False)
            except pf.PipeflowError:
                pass
        runs["canceled"].cancel("not needed")
        deadline = time.monotonic() + 60
        while runs["canceled"].status == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.1)
        proc, url = start_ui(folder)
        try:
            yield Site(folder, url, runs)
        finally:
            stop(proc)
    finally:
        client.close()
