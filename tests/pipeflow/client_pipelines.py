"""Pipelines for the Client tests: a step held until a file appears, a failing step, a DataFrame, a signal gate."""

from __future__ import annotations

import numpy as np
import pandas as pd

import pipeflow as pf
from tests.e2e.pipelines.control import inc, wait_for_file
from tests.e2e.pipelines.inspect import boom


@pf.task(converter="pandas")  # Parquet, which a preview reads a row group at a time, even in a local store
def frame(rows: int) -> pd.DataFrame:
    """`rows` rows of random floats: too large for a field, so offloaded to the store."""
    rng = np.random.default_rng(7)
    return pd.DataFrame({"i": np.arange(rows, dtype="int64"), "x": rng.random(rows)})


@pf.task
def local_frame(rows: int) -> pd.DataFrame:
    """The same with the default converter: Arrow IPC in a local store."""
    return frame.fn(rows)


held = pf.chain(wait_for_file, inc)  # {"started", "release", "value"}: value + 1, once released
broken = pf.chain(inc, boom)  # fails at step 1
gate = pf.chain(pf.wait_signal("go"), inc)  # the signal's value + 1
plus_one = pf.chain(inc)
twice = pf.chain(inc, inc)  # x + 2
