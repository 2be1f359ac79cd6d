"""Nested canvases on the embedded engine, with exact results."""

from __future__ import annotations

import pytest

import pipeflow as pf
from tests.e2e.pipelines import arith

pytestmark = pytest.mark.slow


def test_a_chain_of_100_inc_from_0_gives_100() -> None:
    assert pf.run(arith.chain100, input=0, workers=2) == 100


def test_a_100_wide_group_of_inc_over_0_to_99_sums_to_5050() -> None:
    assert pf.run(arith.group100, input=None, workers=2) == 5050


def test_both_in_one_pipeline() -> None:
    assert pf.run(arith.both, input=0, workers=2) == [100, 5050]


def test_a_100_wide_map() -> None:
    assert pf.run(arith.map100, input=list(range(100)), workers=2) == 5050


def test_a_task_on_its_own_task_list() -> None:
    assert pf.run(pf.chain(arith.inc, arith.inc_elsewhere, arith.inc), input=0, workers=1) == 3
