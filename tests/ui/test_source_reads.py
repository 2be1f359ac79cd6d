"""The console's reader of the embedded state: it lets go between requests and sees what others wrote since."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeflow.ui import Source

ROOT = Path(__file__).resolve().parents[2]
# Another process (as `pipeflow run` would): opens the state, starts a run and closes it, closes the state.
_WRITER = """
import sys
from pipeflow.engine import Engine
with Engine(db=".pipeflow/state.sqlite", poll_timeout=0.05) as engine:
    c = engine.client()
    if not c.list_domains(registrationStatus="REGISTERED")["domainInfos"]:
        c.register_domain(name="pipeflow", workflowExecutionRetentionPeriodInDays="1")
        c.register_workflow_type(domain="pipeflow", name="pipe", version="1", defaultTaskList={"name": "t"},
                                 defaultExecutionStartToCloseTimeout="3600", defaultTaskStartToCloseTimeout="60",
                                 defaultChildPolicy="TERMINATE")
    for name in sys.argv[1:]:
        c.start_workflow_execution(domain="pipeflow", workflowId=name, workflowType={"name": "pipe", "version": "1"})
        c.terminate_workflow_execution(domain="pipeflow", workflowId=name, reason="done")
"""


def _write(folder: Path, *names: str) -> None:
    subprocess.run([sys.executable, "-c", _WRITER, *names], cwd=folder, check=True, timeout=60,
                   env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_the_console_sees_runs_another_process_wrote_after_it_read(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("pipeflow.ui._source.LISTED_FOR", 0.0)  # no reuse of the list: each call reads the state
    _write(tmp_path, *(f"old-{i}" for i in range(30)))
    source = Source()
    try:
        assert len(source.runs()) == 30
        # The console lets go LINGER seconds after a read (no let_go() here): the writer gets the state.
        _write(tmp_path, "new")
        rows = source.runs()
        assert [row.workflow_id for row in rows][:1] == ["new"] and len(rows) == 31
        data = source.run(rows[0].run_id, "new")  # its history, read from the row the writer left
        assert [e["eventType"] for e in data.events] == ["WorkflowExecutionStarted", "DecisionTaskScheduled",
                                                         "WorkflowExecutionTerminated"]
        old = source.run(rows[-1].run_id, rows[-1].workflow_id)
        assert old.row.status == "TERMINATED" and old.events[0]["eventType"] == "WorkflowExecutionStarted"
    finally:
        source.let_go()
