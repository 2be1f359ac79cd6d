"""Fixtures shared by every test tier."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._support.servers import moto_reset, moto_server, pipeflow_server


@pytest.fixture(autouse=True)
def _aws_test_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region, so nothing can reach real AWS."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(scope="session")
def moto_session_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture()
def moto_url(moto_session_url: str) -> str:
    """URL of a moto server (SWF and S3) on loopback, reset before each test."""
    moto_reset(moto_session_url)
    return moto_session_url


@pytest.fixture(scope="session")
def pipeflow_url() -> Iterator[str]:
    """URL of a `pipeflow server` subprocess (in-memory state) on loopback, shared by the session."""
    with pipeflow_server() as url:
        yield url
