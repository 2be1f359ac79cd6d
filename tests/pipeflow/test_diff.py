"""`Run.diff(other)` and `pipeflow diff RUN_A RUN_B`: two runs compared step by step.

Over hand-written histories (each kind of change), then over real runs on the embedded engine,
stages expanded and offloaded values compared by content.
"""

from __future__ import annotations

import json

import pytest

import pipeflow as pf
from pipeflow.cli import main
from pipeflow.client import DIFF_COLUMNS
from pipeflow.client._diff import diff_frame
from tests.e2e.pipelines import tools
from tests.pipeflow.test_stats import History, client, frame_of, ref  # noqa: F401  (client: a fixture)


def test_each_kind_of_change() -> None:
    a, b = History(), History()
    a.task("0#1", "t.a", (0, 0, 1), result=ref(10, where="file:///s/wf-a/r/x"))
    b.task("0#1", "t.a", (0, 0, 1.5), result=ref(10, where="file:///s/wf-b/r/y"))  # same value, elsewhere
    a.task("1#1", "t.b", (1, 1, 2), result="json/1:1")
    b.task("1#1", "t.b", (2, 2, 8), result="json/1:9")  # another result, and 6 s instead of 1
    a.task("2#1", "t.c", (2, 2, 3), ok=False)
    a.task("2#2", "t.c", (3, 3, 4))
    b.task("2#1", "t.c", (8, 8, 9), input='{"v":1,"args":["json/1:5"],"kwargs":{}}')  # no retry; another input
    a.task("3#1", "t.d", (4, 4, 5), ok=False)
    b.task("3#1", "t.d", (9, 9, 10))
    a.task("4#1", "t.e", (5, 5, 6))  # only in A
    b.task("5#1", "t.f", (10, 10, 11))  # only in B
    diff = diff_frame(frame_of(a.events, {}), frame_of(b.events, {}))
    assert list(diff.columns) == DIFF_COLUMNS
    rows = {r.step: r for r in diff.itertuples()}
    assert list(rows) == ["0", "1", "2", "3", "4", "5"]
    assert (rows["0"].change, rows["0"].input, rows["0"].result) == ("", "same", "same")
    assert rows["1"].change == "result, duration" and rows["1"].duration_change == 5.0
    assert rows["2"].change == "retries, input"
    assert (rows["2"].attempts_a, rows["2"].attempts_b, rows["2"].status_a, rows["2"].status_b) == (2, 1, "COMPLETED",
                                                                                                 "COMPLETED")
    assert (rows["3"].change, rows["3"].result) == ("status", None) and (rows["3"].status_a, rows["3"].status_b) == ("FAILED", "COMPLETED")
    assert (rows["4"].change, rows["4"].status_b, rows["4"].attempts_b) == ("missing", None, 0)
    assert (rows["5"].change, rows["5"].status_a, rows["5"].task) == ("added", None, "t.f")


def test_steps_sort_in_canvas_order() -> None:
    a = History()
    for i in (10, 9, 2):
        a.task(f"1.map.{i}#1", "t", (0, 0, 1))
    assert diff_frame(frame_of(a.events, {}), frame_of(History().events, {}))["step"].tolist() == \
        ["1.map.2", "1.map.9", "1.map.10"]


def test_two_real_runs_and_the_command(client: pf.Client, capsys: pytest.CaptureFixture[str]) -> None:
    three, four = client.submit(tools.squares, input=3), client.submit(tools.squares, input=4)
    assert (three.result(), four.result()) == (5, 14)
    diff = three.diff(four).set_index("step")
    assert diff.loc["1.map.3", "change"] == "added"
    assert diff.loc["0", ["input", "result"]].tolist() == ["differs", "differs"]
    for item in ("1.map.0", "1.map.1", "1.map.2"):  # the same squares: same inputs and results
        assert diff.loc[item, ["input", "result"]].tolist() == ["same", "same"], item
    assert diff.loc["2.0.0", "input"] == "differs"  # inside the stage
    assert diff.loc["2.0.1", ["status_a", "status_b"]].tolist() == ["COMPLETED", "COMPLETED"]
    big = [client.submit(tools.big, input=40_000).wait(progress=False) for _ in range(2)]
    offloaded = big[0].diff(big[1]).set_index("step")  # each run's 40 kB result sits in its own folder
    assert offloaded.loc["0", ["result", "change"]].tolist() == ["same", ""]
    assert offloaded.loc["1", ["input", "result"]].tolist() == ["same", "same"]
    other = three.diff(big[0]).set_index("step")
    assert other.loc["0", "change"] == "task, input, result" and other.loc["2", "change"] == "missing"
    with pytest.raises(SystemExit) as done:
        main(["diff", three.run_id, four.workflow_id, "--json"])
    out, err = capsys.readouterr()
    assert done.value.code == 0, err
    doc = json.loads(out)
    assert (doc["a"]["run_id"], doc["b"]["run_id"]) == (three.run_id, four.run_id)
    assert {s["step"]: s["change"] for s in doc["steps"]}["1.map.3"] == "added"
    with pytest.raises(SystemExit) as done:
        main(["diff", three.run_id, four.run_id])
    out, _ = capsys.readouterr()
    assert "1.map.3" in out and "1.map.0" not in out  # unchanged steps only with --all
    assert "1 added, 0 missing" in out
    with pytest.raises(SystemExit) as done:
        main(["diff", three.run_id, "nope"])
    assert done.value.code == 2 and "no run 'nope'" in capsys.readouterr().err
