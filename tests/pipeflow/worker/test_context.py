"""`pf.heartbeat` and `pf.progress` inside and outside a worker process."""

from __future__ import annotations

import json

import pipeflow as pf
from pipeflow.worker._context import MAX_DETAILS, reporting_to


def test_outside_a_worker_they_do_nothing() -> None:
    pf.heartbeat("alive")
    pf.progress(1, 2)


def test_details_reach_the_reporter() -> None:
    sent: list[str | None] = []
    reporting_to(sent.append)
    try:
        pf.heartbeat()
        pf.heartbeat("half way")
        pf.heartbeat({"rows": 3})
        pf.progress(5, 10, "loading")
    finally:
        reporting_to(None)
    assert sent[:3] == [None, "half way", '{"rows": 3}']
    assert json.loads(sent[3] or "") == {"done": 5, "total": 10, "message": "loading"}


def test_details_are_cut_to_swf_limit() -> None:
    sent: list[str | None] = []
    reporting_to(sent.append)
    try:
        pf.heartbeat("x" * 10_000)
    finally:
        reporting_to(None)
    assert len(sent[0] or "") == MAX_DETAILS
    assert (sent[0] or "").endswith("[truncated]")
