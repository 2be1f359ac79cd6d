"""Testing a pipeline with pipeflow's pytest plugin (installed with pipeflow, nothing to configure).

    pytest examples/tests

`pipeflow_run` runs the pipeline on an embedded engine in memory, its steps in worker processes,
and returns the result and the run; `assert_step` checks one step of it by its path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import pipeflow as pf
from pipeflow.testing import assert_step

FANOUT = str(Path(__file__).parents[1] / "pipelines" / "fanout.py")


def test_fanout_counts_the_primes_below_1000(pipeflow_run: Any) -> None:
    result, run = pipeflow_run(FANOUT, {"limit": 1000, "chunks": 4})
    assert result == {"primes": 168, "per_chunk": [53, 42, 37, 36]}
    assert_step(run, "0", task="fanout.split")
    assert_step(run, "1.map.3", task="fanout.count_primes", attempts=1)  # the 4th chunk of the map


def test_a_bad_spec_fails_the_first_step(pipeflow_run: Any) -> None:
    with pytest.raises(pf.TaskFailed, match="KeyError"):
        pipeflow_run(FANOUT, {"chunks": 4})  # no "limit"
    _, run = pipeflow_run(FANOUT, {"chunks": 4}, raises=False)
    assert run.status == "FAILED"
    assert_step(run, "0", status="FAILED", error="limit")
