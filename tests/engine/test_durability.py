"""When an acknowledged change is durable: against a killed process (embedded), a machine's crash (server)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from pipeflow.engine import Engine, serve


@pytest.mark.parametrize(("sync", "level"), [("normal", 1), ("full", 2)])
def test_the_sync_mode_reaches_sqlite(tmp_path: Path, sync: str, level: int) -> None:
    with Engine(db=tmp_path / "state.sqlite", sync=sync) as engine:
        assert engine._store is not None
        assert engine._store._db.execute("PRAGMA synchronous").fetchone()[0] == level


def test_an_unknown_sync_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sync='sometimes'"):
        Engine(db=tmp_path / "state.sqlite", sync="sometimes")


def test_the_server_syncs_every_change_by_default() -> None:
    assert inspect.signature(serve).parameters["sync"].default == "full"
    assert inspect.signature(Engine).parameters["sync"].default == "normal"
