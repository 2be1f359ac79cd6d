"""`pipeflow.testing`: a pytest plugin for testing pipelines (registered under `pytest11`).

Installed with pipeflow, it gives every test session these fixtures:

- `pipeflow_run`: run a pipeline on an embedded engine in memory, in the test's process (its steps
  in worker processes forked from it), and get back the result and the `Run` to assert on:
  `result, run = pipeflow_run(pipeline, 3)`.
- `pipeflow_client`: the in-memory `pf.Client` behind `pipeflow_run`, for `submit`, `signal`,
  `cancel` and everything else a Client does.
- `pipeflow_fake_time`: request it and timers pass at once: retry back-off, waits, pauses.
- `pipeflow_server`: a `pipeflow server` on a free loopback port for this test, with credentials of
  its own set in the test's environment (`.endpoint_url`, `.client(workers=1)`).

And `assert_step(run, "2.map.3", status="COMPLETED", attempts=2)` to check one step of a run.
"""

from ._asserts import assert_step, step_rows
from ._plugin import (
    Outcome,
    pipeflow_client,
    pipeflow_fake_time,
    pipeflow_run,
    pipeflow_server,
)
from ._server import Server, read_url, start_server, stop_server

__all__ = [
    "Outcome",
    "Server",
    "assert_step",
    "pipeflow_client",
    "pipeflow_fake_time",
    "pipeflow_run",
    "pipeflow_server",
    "read_url",
    "start_server",
    "step_rows",
    "stop_server",
]
