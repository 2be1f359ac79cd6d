"""The fixtures of `pipeflow.testing` (pytest finds them through the `pytest11` entry point)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from ._server import Server, start_server

RUN_TIMEOUT = 120.0  # seconds `pipeflow_run` waits for a run before it fails the test


class Outcome(NamedTuple):
    """What `pipeflow_run` returns: the run's result and the run (a `pf.Run`) to assert on."""

    result: Any
    run: Any


@pytest.fixture()
def pipeflow_fake_time() -> bool:
    """Request it and the timers of `pipeflow_client`/`pipeflow_run` fire at once.

    Retry back-off (`retry_delay`), waits and pauses between iterations pass instantly; the
    steps' own code and timeouts keep real time.
    """
    return True


@pytest.fixture()
def pipeflow_client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A `pf.Client` of an embedded engine in memory, this test's own; closed after the test.

    Its steps run in worker processes forked from the test's process, with their large values in
    a folder under the test's `tmp_path`.
    """
    import pipeflow

    fake = "pipeflow_fake_time" in request.fixturenames
    store = tmp_path / "pipeflow-payloads"
    store.mkdir(mode=0o700, exist_ok=True)
    client = pipeflow.Client(state_dir=None, store=str(store), timer_scale=0.0 if fake else 1.0)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture()
def pipeflow_run(pipeflow_client: Any) -> Callable[..., Outcome]:
    """`pipeflow_run(pipeline, input=None, *, raises=True, timeout=120)`: run it, return `(result, run)`.

    `pipeline` is a Pipeline, a canvas, a task or "file.py[:attr]". A run that fails raises its
    error (`pf.TaskFailed`, ...) unless `raises=False`, which returns `(None, run)` to inspect.
    """

    def run(pipeline: Any, input: Any = None, *, raises: bool = True, timeout: float = RUN_TIMEOUT) -> Outcome:
        submitted = pipeflow_client.submit(pipeline, input)
        submitted.wait(timeout=timeout, progress=False)
        if submitted.status == "COMPLETED" or raises:
            return Outcome(submitted.result(), submitted)  # result() raises the failure of a run that failed
        return Outcome(None, submitted)

    return run


@pytest.fixture()
def pipeflow_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """A `pipeflow server` (state in memory) on a free loopback port for this test.

    The test's environment gets the server's credentials and `AWS_ENDPOINT_URL_SWF`, so
    `pf.Client(server.endpoint_url)`, `server.client(workers=1)` and `pipeflow` commands run in a
    subprocess reach it.
    """
    with start_server() as server:
        for name, value in server.environment.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        yield server
