"""A chaos run on real processes (issue 13): a map against `pipeflow server --db`, 1 decider and 2 workers,
with 10 faults: workers and the decider SIGKILLed (and restarted, as Restart=always would), the server
SIGKILLed and restarted on the same port and database, an outage, and a full disk (RLIMIT_FSIZE).

The run must end with the exact result, no activity completed twice, and every event the server had
answered with before a restart still there after the last one. `bench/chaos.py` runs the full-size
schedule (2,000 activities, default task options, a 60 s outage); this is its small CI version: 300
activities whose task has a 5 s heartbeat timeout, a 10 s outage and 5 s of full disk.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._support import chaos
from tests._support.servers import TEST_CREDENTIALS

pytestmark = pytest.mark.slow

# The decider kills come first: a decider SIGKILLed while it holds a decision task stalls that
# execution until the decision task's 30 s start-to-close timeout; early, those waits overlap the rest.
FAULTS = ("decider", "worker", "server", "decider", "worker", "outage", "server", "disk-full", "worker", "server")


def test_a_map_survives_ten_faults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in TEST_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    report = chaos.run_map(tmp_path, items=300, attr="chaos_quick", faults=FAULTS, outage=10.0, disk_full=5.0,
                           task_seconds=0.1, spacing=2.0, timeout=150.0)
    summary = "\n".join([report.line("-"), *report.fault_log, *report.notes])
    assert report.faults == len(FAULTS), summary
    assert kinds(report) == sorted(FAULTS), summary
    assert report.correct == 1, summary
    assert report.duplicates == 0, summary
    assert report.checked > 0 and report.lost == 0, summary
    assert any("probe writes refused with 503" in note and not note.split(": ")[1].startswith("0 of")
               for note in report.notes), summary  # the disk was really full for a while


def kinds(report: chaos.Report) -> list[str]:
    return sorted(entry.split(" ", 1)[1] for entry in report.fault_log)
