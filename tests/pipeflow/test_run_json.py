"""What `pipeflow run` prints on stdout for results that are not plain JSON."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd

from pipeflow.running import result_json


def test_plain_values() -> None:
    assert json.loads(result_json({"a": [1, 2.5, None, "é"]})) == {"a": [1, 2.5, None, "é"]}


def test_dataframes_become_records() -> None:
    frame = pd.DataFrame({"x": [1, 2], "y": ["a", "b"]})
    assert json.loads(result_json({"frame": frame})) == {"frame": [{"x": 1, "y": "a"}, {"x": 2, "y": "b"}]}


def test_numpy_tuples_sets_dates() -> None:
    value = [np.int64(3), np.array([1.5, 2.0]), (1, 2), {4}, dt.date(2024, 1, 2)]
    assert json.loads(result_json(value)) == [3, [1.5, 2.0], [1, 2], [4], "2024-01-02"]
