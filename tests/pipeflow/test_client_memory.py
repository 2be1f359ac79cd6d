"""`pf.Client(state_dir=None)`: an embedded engine in memory, the client's own, with nothing left on disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import pipeflow as pf


@pf.task
def double(x: int) -> int:
    return 2 * x


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PIPEFLOW_STORE", raising=False)


def test_an_engine_in_memory_runs_and_leaves_nothing_behind(tmp_path: Path) -> None:
    client = pf.Client(state_dir=None, workers=1)
    store = client.store
    assert store is not None and Path(store).is_dir() and (os.stat(store).st_mode & 0o777) == 0o700
    run = client.submit(pf.chain(double, double), 5)
    assert run.result() == 20
    assert client.runs()["run_id"].tolist() == [run.run_id]
    assert "in memory" in repr(client)
    client.close()
    assert not Path(store).exists(), "the temporary store outlived the client"
    assert list(tmp_path.iterdir()) == [], "an engine in memory wrote into the working directory"


def test_two_engines_in_memory_are_separate() -> None:
    with pf.Client(state_dir=None, workers=1) as a, pf.Client(state_dir=None, workers=1) as b:
        run = a.submit(double, 2)
        assert run.result() == 4
        assert b.runs().empty


@pytest.mark.parametrize("options", [{"timer_scale": -1, "state_dir": None}, {"timer_scale": 0}])
def test_timer_scale_is_for_an_engine_in_memory(options: dict[str, object]) -> None:
    with pytest.raises(pf.PipelineError, match="timer_scale"):
        pf.Client(**options)  # type: ignore[arg-type]
