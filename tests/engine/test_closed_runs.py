"""Closed runs live in rows of their own: opening the state does not load them, every call still finds them."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from pipeflow.engine import Engine, StoreDamaged, SWFFault
from pipeflow.engine._chain import snapshot_sum
from pipeflow.engine._records import decode_record

WF = {"name": "wf", "version": "1"}
WF2 = {"name": "other", "version": "2"}
STATUS = {0: "COMPLETED", 1: "FAILED", 2: "CANCELED", 3: "TERMINATED"}


def _register(c: Any) -> None:
    c.register_domain(name="d", workflowExecutionRetentionPeriodInDays="1")
    for wtype in (WF, WF2):
        c.register_workflow_type(domain="d", **wtype, defaultTaskList={"name": "dt"},
                                 defaultExecutionStartToCloseTimeout="3600", defaultTaskStartToCloseTimeout="60",
                                 defaultChildPolicy="ABANDON")


def _decide(c: Any, decision: dict[str, Any]) -> str:
    task = c.poll_for_decision_task(domain="d", taskList={"name": "dt"})
    c.respond_decision_task_completed(taskToken=task["taskToken"], decisions=[decision])
    return str(task["workflowExecution"]["workflowId"])


def _close(c: Any, workflow_id: str, how: int) -> None:
    if how == 3:
        c.terminate_workflow_execution(domain="d", workflowId=workflow_id, reason="stop")
        return
    decision = ["CompleteWorkflowExecution", "FailWorkflowExecution", "CancelWorkflowExecution"][how]
    attrs = {"result": f"done {workflow_id}"} if how == 0 else {"details": f"x {workflow_id}"}
    name = decision[0].lower() + decision[1:] + "DecisionAttributes"
    assert _decide(c, {"decisionType": decision, name: attrs}) == workflow_id


def _build(c: Any, runs: int) -> None:
    """`runs` closed runs of two types, tagged, of every close status; a parent closed with its child open."""
    _register(c)
    for i in range(runs):
        c.start_workflow_execution(domain="d", workflowId=f"r{i}", workflowType=WF if i % 2 else WF2,
                                   tagList=[f"t{i % 3}"], input=f"in {i}")
        _close(c, f"r{i}", i % 4)
    c.start_workflow_execution(domain="d", workflowId="parent", workflowType=WF)
    _decide(c, {"decisionType": "StartChildWorkflowExecution", "startChildWorkflowExecutionDecisionAttributes": {
        "workflowId": "child", "workflowType": WF}})
    task = c.poll_for_decision_task(domain="d", taskList={"name": "dt"})  # parent: child started; child: its start
    decisions = {"parent": [{"decisionType": "CompleteWorkflowExecution"}], "child": []}
    for _ in range(2):
        c.respond_decision_task_completed(taskToken=task["taskToken"],
                                          decisions=decisions[task["workflowExecution"]["workflowId"]])
        task = c.poll_for_decision_task(domain="d", taskList={"name": "dt"})
    assert "taskToken" not in task
    c.start_workflow_execution(domain="d", workflowId="open", workflowType=WF)


QUERIES: list[dict[str, Any]] = [
    {}, {"tagFilter": {"tag": "t1"}}, {"closeStatusFilter": {"status": "FAILED"}}, {"typeFilter": WF2},
    {"typeFilter": {"name": "wf"}}, {"executionFilter": {"workflowId": "r5"}}, {"reverseOrder": True},
]


def _answers(c: Any) -> dict[str, Any]:
    """Every closed run's list, count, description and history, under each filter and paged by 7."""
    out: dict[str, Any] = {}
    for i, query in enumerate(QUERIES):
        for times in ({"startTimeFilter": {"oldestDate": 0}}, {"closeTimeFilter": {"oldestDate": 0}}):
            params = {"domain": "d", **times, **query}
            pages, token = [], None
            while True:
                page = c.list_closed_workflow_executions(**params, maximumPageSize=7,
                                                         **({"nextPageToken": token} if token else {}))
                pages.append(page["executionInfos"])
                token = page.get("nextPageToken")
                if not token:
                    break
            out[f"list {i} {list(times)}"] = pages
            params.pop("reverseOrder", None)
            out[f"count {i} {list(times)}"] = c.count_closed_workflow_executions(**params)["count"]
    infos = c.list_closed_workflow_executions(domain="d", startTimeFilter={"oldestDate": 0})["executionInfos"]
    for info in infos:
        execution = info["execution"]
        out[f"describe {execution}"] = c.describe_workflow_execution(domain="d", execution=execution)
        out[f"history {execution}"] = c.get_workflow_execution_history(domain="d", execution=execution)["events"]
        out[f"reversed {execution}"] = c.get_workflow_execution_history(
            domain="d", execution=execution, reverseOrder=True, maximumPageSize=3)["events"]
    out["open"] = c.list_open_workflow_executions(domain="d", startTimeFilter={"oldestDate": 0})["executionInfos"]
    return out


def _snapshot(db: Path) -> dict[str, Any]:
    con = sqlite3.connect(db)
    try:
        return dict(json.loads(con.execute("SELECT data FROM snapshot ORDER BY seq DESC LIMIT 1").fetchone()[0]))
    finally:
        con.close()


def test_closed_runs_are_not_loaded_at_open_and_answer_every_query_as_before(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite"
    with Engine(db=db, poll_timeout=0.05) as engine:
        _build(engine.client(), 40)
        before = _answers(engine.client())
        assert engine.held_runs == 43  # all in memory until the snapshot at close
    image = _snapshot(db)
    assert sorted(r["workflow_id"] for r in image["runs"]) == ["child", "open"]  # the snapshot holds what is open
    assert image["closed"] == 41
    with Engine(db=db, poll_timeout=0.05) as engine:
        assert engine.held_runs == 2
        assert engine._state.closed.loads == 0  # nothing of a closed run was read to open
        c = engine.client()
        after = _answers(c)
        assert after == before
        assert len(before["list 0 ['startTimeFilter']"]) == 6 and before["count 1 ['startTimeFilter']"] == 13
        child = next(i for i in after["open"] if i["execution"]["workflowId"] == "child")
        assert child["parent"]["workflowId"] == "parent"  # its parent is closed, in its row
        assert engine.held_runs == 2  # what the calls read was kept aside, not put back in the state
        # The open child closes: its closed parent hears nothing (as SWF); the child joins the closed runs.
        c.signal_workflow_execution(domain="d", workflowId="child", signalName="go")
        task = c.poll_for_decision_task(domain="d", taskList={"name": "dt"})  # "open"'s first, left pending
        c.respond_decision_task_completed(taskToken=task["taskToken"], decisions=[])
        assert _decide(c, {"decisionType": "CompleteWorkflowExecution"}) == "child"
        assert c.count_closed_workflow_executions(domain="d", startTimeFilter={"oldestDate": 0})["count"] == 42
        newest = c.list_closed_workflow_executions(domain="d", closeTimeFilter={"oldestDate": 0},
                                                   maximumPageSize=1)["executionInfos"]
        assert newest[0]["execution"]["workflowId"] == "child" and newest[0]["parent"]["workflowId"] == "parent"
        parent = after["history " + str(child["parent"])]
        assert c.get_workflow_execution_history(domain="d", execution=child["parent"])["events"] == parent
    with Engine(db=db, poll_timeout=0.05) as engine:
        assert engine.held_runs == 1
        assert _answers(engine.client())["count 0 ['startTimeFilter']"] == 42


def test_the_state_opened_holds_the_open_runs_only_however_many_closed_runs_it_has(tmp_path: Path) -> None:
    held = []
    for runs in (4, 60):
        db = tmp_path / f"{runs}.sqlite"
        with Engine(db=db, poll_timeout=0.05) as engine:
            _build(engine.client(), runs)
        with Engine(db=db, poll_timeout=0.05) as engine:
            held.append((engine.held_runs, engine._state.closed.loads))
    assert held == [(2, 0), (2, 0)]


def _closed_state(db: Path) -> None:
    with Engine(db=db, poll_timeout=0.05) as engine:
        _build(engine.client(), 8)


def test_a_changed_row_is_found_when_read_and_a_lost_one_at_open(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite"
    _closed_state(db)
    con = sqlite3.connect(db, isolation_level=None)
    run_id = con.execute("SELECT run_id FROM runs WHERE head LIKE '%\"r3\"%'").fetchone()[0]
    con.execute("UPDATE runs SET data = replace(data, 'stop', 'STOP') WHERE run_id=?", (run_id,))
    con.close()
    with Engine(db=db, poll_timeout=0.05) as engine:
        c = engine.client()
        assert c.count_closed_workflow_executions(domain="d", startTimeFilter={"oldestDate": 0})["count"] == 9
        with pytest.raises(StoreDamaged, match="does not match its checksum"):
            engine.call("GetWorkflowExecutionHistory", {"domain": "d", "execution": {"workflowId": "r3",
                                                                                     "runId": run_id}})
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("DELETE FROM runs WHERE run_id=?", (run_id,))
    con.close()
    with pytest.raises(StoreDamaged, match="holds 8 closed runs where its snapshot .* says 9"):
        Engine(db=db)
    with Engine(db=db, recover=True, poll_timeout=0.05) as engine:
        assert engine.recovery is not None and "8 closed runs" in engine.recovery
        c = engine.client()
        assert c.count_closed_workflow_executions(domain="d", startTimeFilter={"oldestDate": 0})["count"] == 8
    with Engine(db=db, poll_timeout=0.05) as engine:  # verifies again
        assert engine.held_runs == 2


@pytest.mark.parametrize("data", [
    b"\x91" * 100_000 + b"\xc0",  # lists nested 100,000 deep
    b"\xa5hello",  # a string, not a record
    b"\x81\xa6run_id\xc0",  # a record without the run
    b"{\"run_id\": [",  # JSON, cut short
], ids=["deep", "string", "no-run", "cut-json"])
def test_a_row_whose_checksum_matches_but_holds_no_run_is_damage_not_a_crash(tmp_path: Path, data: bytes) -> None:
    db = tmp_path / "state.sqlite"
    _closed_state(db)
    con = sqlite3.connect(db, isolation_level=None)
    run_id = con.execute("SELECT run_id FROM runs WHERE head LIKE '%\"r3\"%'").fetchone()[0]
    con.execute("UPDATE runs SET data=?, sum=? WHERE run_id=?", (data, snapshot_sum(data), run_id))
    con.close()
    with Engine(db=db, poll_timeout=0.05) as engine:
        with pytest.raises(StoreDamaged, match=f"the row of closed run {re.escape(run_id)} (cannot be read|holds another)"):
            engine.call("GetWorkflowExecutionHistory", {"domain": "d", "execution": {"workflowId": "r3",
                                                                                     "runId": run_id}})
        c = engine.client()  # the other runs are still read
        assert c.count_closed_workflow_executions(domain="d", startTimeFilter={"oldestDate": 0})["count"] == 9


def test_closed_runs_in_rows_are_forgotten_after_their_retention(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "state.sqlite"
    _closed_state(db)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 2 * 86_400)  # two days on: the retention (1 day) is over
    with Engine(db=db, poll_timeout=0.05) as engine:
        c = engine.client()
        r1 = engine._state.closed.summaries("d")[1].run_id
        deadline = real() + 10
        while _closed_ids(c) != {"child", "open"}:  # those two timed out meanwhile (3,600 s), and close now
            assert real() < deadline, "the timer thread did not purge the closed runs"
            time.sleep(0.02)
        with pytest.raises(Exception, match="Unknown execution"):
            c.describe_workflow_execution(domain="d", execution={"workflowId": "r1", "runId": r1})
    monkeypatch.undo()
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM runs").fetchone() == (2,)  # the snapshot deleted the purged rows
    con.close()
    with Engine(db=db, poll_timeout=0.05) as engine:
        assert _closed_ids(engine.client()) == {"child", "open"}
        with pytest.raises(Exception, match="Unknown execution"):
            engine.client().get_workflow_execution_history(domain="d", execution={"workflowId": "r1", "runId": r1})


def _closed_ids(c: Any) -> set[str]:
    infos = c.list_closed_workflow_executions(domain="d", startTimeFilter={"oldestDate": 0})["executionInfos"]
    return {info["execution"]["workflowId"] for info in infos}


def test_a_snapshot_of_the_older_format_with_closed_runs_inside_is_folded_out_at_open(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite"
    _closed_state(db)
    con = sqlite3.connect(db, isolation_level=None)  # back to format 2: the closed runs inside the snapshot
    image = _snapshot(db)
    image["runs"] += [decode_record(data) for (data,) in con.execute("SELECT data FROM runs ORDER BY rowid")]
    del image["closed"]
    text = json.dumps(image)
    con.execute("UPDATE snapshot SET data=?, sum=?", (text, snapshot_sum(text)))
    con.execute("DROP TABLE runs")
    con.execute("UPDATE meta SET value='2' WHERE key='format'")
    con.close()
    with Engine(db=db, poll_timeout=0.05) as engine:
        assert engine.held_runs == 2  # folded out at once
        c = engine.client()
        assert c.count_closed_workflow_executions(domain="d", startTimeFilter={"oldestDate": 0})["count"] == 9
    assert _snapshot(db)["closed"] == 9


def test_rows_of_format_3_with_json_records_are_read_and_the_state_moves_to_format_4(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite"
    _closed_state(db)
    with Engine(db=db, poll_timeout=0.05) as engine:
        wanted = _histories(engine.client())
    con = sqlite3.connect(db, isolation_level=None)  # as format 3 wrote them: JSON text
    rows = con.execute("SELECT run_id, data FROM runs").fetchall()
    assert rows and all(isinstance(data, bytes) and data[:1] != b"{" for _, data in rows)  # msgpack now
    for run_id, data in rows:
        text = json.dumps(decode_record(data), separators=(",", ":"))
        con.execute("UPDATE runs SET data=?, sum=? WHERE run_id=?", (text, snapshot_sum(text), run_id))
    con.execute("UPDATE meta SET value='3' WHERE key='format'")
    con.close()
    with Engine(db=db, poll_timeout=0.05) as engine:
        assert _histories(engine.client()) == wanted
    con = sqlite3.connect(db)
    assert con.execute("SELECT value FROM meta WHERE key='format'").fetchone() == ("4",)
    con.close()


def _histories(c: Any) -> dict[str, list[dict[str, Any]]]:
    """Each closed run's whole history, by run id."""
    infos = c.list_closed_workflow_executions(domain="d", startTimeFilter={"oldestDate": 0})["executionInfos"]
    assert infos
    return {info["execution"]["runId"]: c.get_workflow_execution_history(domain="d", execution=info["execution"])
            ["events"] for info in infos}


def test_a_memory_engine_keeps_closed_runs_in_memory() -> None:
    with Engine(poll_timeout=0.05) as engine:
        c = engine.client()
        _build(c, 6)
        assert engine.held_runs == 9
        assert c.count_closed_workflow_executions(domain="d", startTimeFilter={"oldestDate": 0})["count"] == 7
        with pytest.raises(SWFFault):
            engine.call("DescribeWorkflowExecution", {"domain": "d", "execution": {"workflowId": "r1",
                                                                                   "runId": "nope"}})


def test_closed_runs_are_read_while_other_calls_commit_in_batches(tmp_path: Path) -> None:
    """sync="full": batches are committed outside the lock, on the connection the closed runs are read from."""
    import threading

    db = tmp_path / "state.sqlite"
    _closed_state(db)
    errors: list[BaseException] = []
    with Engine(db=db, poll_timeout=0.05, sync="full") as engine:
        c = engine.client()
        infos = c.list_closed_workflow_executions(domain="d", startTimeFilter={"oldestDate": 0})["executionInfos"]

        def write(k: int) -> None:
            try:
                for i in range(25):
                    c.start_workflow_execution(domain="d", workflowId=f"w{k}-{i}", workflowType=WF)
                    c.terminate_workflow_execution(domain="d", workflowId=f"w{k}-{i}")
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        def read() -> None:
            try:
                for _ in range(25):
                    for info in infos:  # 9 runs through a cache of KEPT_RUNS (8): each one is read again
                        assert c.get_workflow_execution_history(domain="d", execution=info["execution"])["events"]
                    c.count_closed_workflow_executions(domain="d", startTimeFilter={"oldestDate": 0})
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(k,)) for k in range(3)] + [threading.Thread(target=read)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert c.count_closed_workflow_executions(domain="d", startTimeFilter={"oldestDate": 0})["count"] == 9 + 75
