"""`pf.run` takes its store as `pf.Client()` and the commands do: `store=`, else PIPEFLOW_STORE, else ./.pipeflow/payloads."""

from __future__ import annotations

from pathlib import Path

import pytest

import pipeflow as pf


@pf.task
def big(n: int) -> str:
    return "x" * n  # over SWF's 32,768-character field: offloaded to the store


def _holds_values(folder: Path) -> bool:
    return folder.is_dir() and any(p.is_file() for p in folder.rglob("*"))


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_pf_run_offloads_to_pipeflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPEFLOW_STORE", str(tmp_path / "from-env"))
    assert pf.run(big, 100_000, workers=1) == "x" * 100_000
    assert _holds_values(tmp_path / "from-env")
    assert not _holds_values(tmp_path / ".pipeflow" / "payloads")


def test_store_given_wins_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPEFLOW_STORE", str(tmp_path / "from-env"))
    assert pf.run(big, 100_000, workers=1, store=str(tmp_path / "given")) == "x" * 100_000
    assert _holds_values(tmp_path / "given") and not _holds_values(tmp_path / "from-env")


def test_without_either_the_folders_own_payloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIPEFLOW_STORE", raising=False)
    assert pf.run(big, 100_000, workers=1) == "x" * 100_000
    assert _holds_values(tmp_path / ".pipeflow" / "payloads")
