"""Through `pf.run`: a task returning numpy.int64, and a list of frames handed to the next step."""

from __future__ import annotations

import numpy as np
import pytest

import pipeflow as pf
from tests.converters import pipelines


def test_a_numpy_int64_result_comes_back_as_one() -> None:
    result = pf.run(pipelines.sum_of_frame, input=10, workers=1)
    assert type(result) is np.int64 and result == 45


def test_a_list_of_frames_reaches_the_next_step() -> None:
    result = pf.run(pipelines.frames_between_steps, input=10, workers=1)
    assert result["rows"] == [5, 5] and result["types"] == ["DataFrame", "DataFrame"]
    assert type(result["sum"]) is np.int64 and result["sum"] == 45


@pytest.mark.parametrize("rows", [100_000])
def test_a_list_of_large_frames_goes_through_the_store(tmp_path: object, rows: int) -> None:
    result = pf.run(pipelines.frames_between_steps, input=rows, workers=1, store=str(tmp_path))
    assert result["rows"] == [rows // 2, rows - rows // 2] and result["sum"] == rows * (rows - 1) // 2
