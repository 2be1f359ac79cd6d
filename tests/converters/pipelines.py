"""Tasks for the pipeline test of numpy values and lists of frames; module level so workers can import them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

import pipeflow as pf


@pf.task
def frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(n, dtype="int64")})


@pf.task
def total(df: pd.DataFrame) -> Any:
    return df["x"].sum()  # a numpy.int64


@pf.task
def halves(n: int) -> list[pd.DataFrame]:
    df = pd.DataFrame({"x": np.arange(n, dtype="int64"), "y": np.linspace(0, 1, n)})
    return [df.iloc[: n // 2], df.iloc[n // 2 :]]


@pf.task
def rows(frames: list[pd.DataFrame]) -> dict[str, Any]:
    return {"rows": [len(f) for f in frames], "types": [type(f).__name__ for f in frames],
            "sum": pd.concat(frames)["x"].sum()}


sum_of_frame = pf.chain(frame, total)
frames_between_steps = pf.chain(halves, rows)
