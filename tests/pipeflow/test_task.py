"""`@task`, its options and its signatures."""

from __future__ import annotations

import dataclasses

import pytest

import pipeflow as pf
from pipeflow._errors import PipelineError


@pf.task
def double(x: int) -> int:
    return 2 * x


@pf.task(name="custom.name", version=2, retries=3, retry_delay=0.5, timeout=60, heartbeat=5,
         task_list="cpu", converter="msgpack", cache=True)
def tuned(x: int, y: int = 0) -> int:
    return x + y


class Holder:
    @staticmethod
    @pf.task
    def nested(x: int) -> int:
        return x


def test_bare_decorator_makes_a_task_callable_directly() -> None:
    assert isinstance(double, pf.Task)
    assert double(4) == 8
    assert (double.name, double.version, double.retries, double.timeout, double.heartbeat) == (
        "test_task.double", "1", 0, 300, None)


def test_options_are_kept() -> None:
    assert (tuned.name, tuned.version, tuned.retries, tuned.retry_delay) == ("custom.name", "2", 3, 0.5)
    assert (tuned.timeout, tuned.heartbeat, tuned.task_list, tuned.converter, tuned.cache) == (
        60, 5, "cpu", "msgpack", True)
    assert tuned(1, y=2) == 3


def test_default_name_uses_the_file_stem_and_qualname() -> None:
    assert Holder.nested.name == "test_task.Holder.nested"


def test_tasks_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        double.name = "x"  # type: ignore[misc]


def test_signatures() -> None:
    s = tuned.s(1, y=2)
    assert (s.task, s.args, s.kwargs, s.immutable) == (tuned, (1,), (("y", 2),), False)
    assert tuned.si(5).immutable


@pytest.mark.parametrize("options", [{"retries": -1}, {"retry_delay": -1.0}])
def test_bad_options_are_pipeline_errors(options: dict[str, object]) -> None:
    with pytest.raises(pf.PipelineError):
        pf.task(**options)(lambda x: x)  # type: ignore[call-overload]


@pytest.mark.parametrize("name", ["a:b", "a/b", "a|b", "tab\there", " lead", "arn", "x" * 257])
def test_task_names_swf_refuses_are_a_clear_error(name: str) -> None:
    with pytest.raises(PipelineError, match="SWF names are 1-256 characters"):
        pf.task(name=name)(lambda x: x)


def test_versions_and_task_lists_are_checked_too() -> None:
    with pytest.raises(PipelineError, match="the version"):
        pf.task(version="1:2")(lambda x: x)
    with pytest.raises(PipelineError, match="the task list"):
        pf.task(task_list="gpu/big")(lambda x: x)
    with pytest.raises(PipelineError, match="the pipeline name"):
        pf.Pipeline(pf.task(lambda x: x), name="my:pipeline")


def test_a_long_pipeline_name_still_gives_a_valid_workflow_id() -> None:
    from pipeflow.engine import Engine
    from pipeflow.running import start

    engine = Engine()
    try:
        swf = engine.client()
        pipeline = pf.Pipeline(pf.task(lambda x: x), name="p" * 256)
        from pipeflow.running import register

        register(swf, "names", pipeline)
        workflow_id, _ = start(swf, "names", pipeline, 1, store=None)
        assert len(workflow_id) == 256 and workflow_id.startswith("p" * 243 + "-")
    finally:
        engine.close()
