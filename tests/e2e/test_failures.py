"""Failures: retries, return_exceptions, results that cannot cross SWF, unknown activity types."""

from __future__ import annotations

from pathlib import Path

import pytest

import pipeflow as pf
from tests.e2e.pipelines import arith

pytestmark = pytest.mark.slow


def test_a_task_failing_twice_succeeds_with_two_retries(tmp_path: Path) -> None:
    counter = tmp_path / "attempts"
    result = pf.run(arith.flaky_retries2, input={"counter": str(counter), "fail_times": 2}, workers=1)
    assert result == 3
    assert counter.read_text() == "3"


def test_a_task_failing_twice_fails_the_run_with_one_retry(tmp_path: Path) -> None:
    counter = tmp_path / "attempts"
    with pytest.raises(pf.TaskFailed) as info:
        pf.run(arith.flaky_retries1, input={"counter": str(counter), "fail_times": 2}, workers=1)
    assert counter.read_text() == "2"
    error = info.value
    assert error.error_type == "RuntimeError"
    assert "flaky failure 2" in str(error)
    assert error.run_id


def test_a_failure_names_step_task_and_error() -> None:
    with pytest.raises(pf.TaskFailed) as info:
        pf.run(pf.chain(arith.inc, arith.boom), input=1, workers=1)
    error = info.value
    assert "boom" in (error.task or "")
    assert error.step is not None
    assert error.error_type == "ValueError"
    assert "boom on 2" in str(error)
    assert "raise ValueError" in (error.remote_traceback or "")


def test_long_failure_details_are_offloaded_not_cut(tmp_path: Path) -> None:
    store = tmp_path / "payloads"
    with pytest.raises(pf.TaskFailed) as info:
        pf.run(pf.chain(arith.boom_long), input=1, workers=1, store=str(store))
    error = info.value
    text = str(error)
    assert "start of a long message" in text and text.endswith("end of a long message")
    assert "raise ValueError" in (error.remote_traceback or "")
    assert any(store.iterdir()), "the details went to the store"


def test_return_exceptions_puts_the_error_in_its_slot() -> None:
    members = pf.group(arith.inc, arith.boom, arith.inc, return_exceptions=True)
    result = pf.run(members, input=1, workers=1)
    assert result[0] == result[2] == 2
    assert isinstance(result[1], pf.TaskFailed) and "boom on 1" in str(result[1])


def test_the_next_step_receives_the_error_object() -> None:
    members = pf.group(arith.inc, arith.boom, return_exceptions=True)
    result = pf.run(pf.chain(members, arith.describe), input=1, workers=1)
    assert result[0] == 2
    assert result[1].startswith("TaskFailed: ") and "boom on 1" in result[1]


def test_a_result_that_cannot_be_encoded_fails_the_task() -> None:
    with pytest.raises(pf.TaskFailed) as info:
        pf.run(arith.unencodable, input=1, workers=1)
    assert "object" in str(info.value)


def test_heartbeats_keep_a_long_task_alive() -> None:
    # 1.5 s of work against a 1 s heartbeat timeout: only the worker's heartbeats save it
    assert pf.run(arith.slow_with_progress, input=1.5, workers=1) == "done"
