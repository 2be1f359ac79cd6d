"""Class and instance tasks: how they are called, what is captured, the errors, and runs on the embedded engine."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import converters
import pytest

import pipeflow as pf
from pipeflow.worker import Registry


@pf.task
class Counter:
    """A class task: a new instance for every call."""

    def __init__(self, start: int = 10) -> None:
        self.start = start
        self.calls = 0

    def __call__(self, x: int) -> int:
        self.calls += 1
        return self.start + x + self.calls  # calls is always 1: nothing leaks between calls


class Scale:
    def __init__(self, factor: int) -> None:
        self.factor = factor
        self.seen: list[int] = []

    def __call__(self, x: int) -> int:
        self.seen.append(x)
        return x * self.factor * len(self.seen)  # len(seen) is always 1: each call gets a fresh copy


class Slotted:
    __slots__ = ("offset",)

    def __init__(self, offset: int) -> None:
        self.offset = offset

    def __call__(self, x: int) -> int:
        return x - self.offset


scaler = Scale(3)
scale = pf.task(scaler, name="tests.scale")
scaler.factor = 100  # after the definition: the task keeps what it captured
minus = pf.task(Slotted(1), name="tests.minus", retries=1)


def test_a_class_task_is_instantiated_per_call() -> None:
    assert Counter.name.endswith(".Counter")
    assert Counter(1) == 12 and Counter(1) == 12


def test_an_instance_task_runs_on_a_fresh_copy_of_the_state_captured_at_definition() -> None:
    assert scale(2) == 6 and scale(2) == 6
    assert scaler.seen == []  # the instance itself is never called
    assert converters.loads(scale.captured) == {"factor": 3, "seen": []}
    assert minus(5) == 4


def test_a_worker_rebuilds_an_instance_from_the_state_its_parent_captured() -> None:
    registry = Registry.from_tasks([Counter, scale, minus])
    refs = registry.refs()
    assert {ref.qualname for ref in refs} == {"Counter", "Scale", "Slotted"}
    # A worker process re-importing the module would capture its own state: the parent's wins.
    parent = converters.dumps({"factor": 7, "seen": []})
    refs = [dataclasses.replace(ref, captured=parent) if ref.name == "tests.scale" else ref for ref in refs]
    again = Registry.from_refs(refs)
    assert again.get(Counter.name, "1") is Counter
    assert again.get("tests.minus", "1") is minus
    assert again.get("tests.scale", "1")(2) == 14


def test_a_class_needing_constructor_arguments_is_refused_with_the_fix() -> None:
    with pytest.raises(pf.PipelineError) as caught:
        pf.task(Scale)
    assert str(caught.value) == (
        f"task {Counter.name.rsplit('.', 1)[0]}.Scale: the class Scale needs constructor arguments (factor); a class "
        "task is instantiated with no arguments: give them defaults, or make an instance a task: "
        "pf.task(Scale(...), name=...)"
    )


def test_a_class_without_call_and_an_instance_without_a_name_are_refused() -> None:
    class NoCall:
        pass

    with pytest.raises(pf.PipelineError, match="has no __call__ method"):
        pf.task(NoCall)
    with pytest.raises(pf.PipelineError, match=r"needs a name: pf.task\(instance, name=...\)"):
        pf.task(Scale(2))


def test_an_instance_whose_state_cannot_be_encoded_is_refused_naming_it() -> None:
    class Holder:
        def __init__(self) -> None:
            self.lock = threading.Lock()

        def __call__(self) -> None:
            pass

    with pytest.raises(pf.PipelineError) as caught:
        pf.task(Holder(), name="holder")
    message = str(caught.value)
    assert message.startswith("task holder: the state of ")
    assert "Holder instance cannot be encoded" in message and "lock" in message
    assert "use a class task" in message


def test_class_and_instance_tasks_run_in_worker_processes(tmp_path: Path) -> None:
    with pf.Client(state_dir=None, store=str(tmp_path)) as client:
        run = client.submit(pf.chain(Counter, scale, pf.group(minus, Counter)), 1)
        result: Any = run.result()
    assert result == [35, 47]  # (1 + 10 + 1) * 3 = 36; 36 - 1 and 36 + 10 + 1
