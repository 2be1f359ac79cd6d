"""A pandas ETL: DataFrames pass between steps, cleaning and statistics run in parallel.

    pipeflow run examples/pipelines/etl.py --input '{"rows": 100000, "seed": 7}'

extract -> group(clean, stats) -> report. Large frames are offloaded to the
store (./.pipeflow/payloads/ by default), so only small references cross SWF.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

import pipeflow as pf

REGIONS = ["north", "south", "east", "west"]


@pf.task
def extract(spec: dict[str, Any]) -> pd.DataFrame:
    """Synthetic sales: one row per sale, with some bad rows (missing or negative amounts)."""
    rows, seed = int(spec.get("rows", 1000)), int(spec.get("seed", 0))
    rng = np.random.default_rng(seed)
    amount = rng.normal(100.0, 30.0, rows).round(2)
    amount[rng.random(rows) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "order": np.arange(rows, dtype="int64"),
            "region": rng.choice(REGIONS, rows),
            "amount": amount,
        }
    )


@pf.task
def clean(sales: pd.DataFrame) -> pd.DataFrame:
    """Drop rows whose amount is missing or not positive."""
    ok = sales["amount"].notna() & (sales["amount"] > 0)
    return sales.loc[ok].reset_index(drop=True)


@pf.task
def stats(sales: pd.DataFrame) -> pd.DataFrame:
    """Rows and missing amounts per region, on the raw data."""
    return (
        sales.assign(missing=sales["amount"].isna())
        .groupby("region", sort=True)
        .agg(rows=("order", "size"), missing=("missing", "sum"))
        .reset_index()
    )


@pf.task
def report(parts: list[pd.DataFrame]) -> dict[str, Any]:
    """Totals per region from the clean data, beside the raw counts."""
    cleaned, raw = parts
    totals = cleaned.groupby("region", sort=True)["amount"].sum().round(2)
    return {
        "rows": int(raw["rows"].sum()),
        "clean_rows": len(cleaned),
        "dropped": int(raw["rows"].sum()) - len(cleaned),
        "regions": {
            str(row.region): {"rows": int(row.rows), "missing": int(row.missing), "total": float(totals[row.region])}
            for row in raw.itertuples()
        },
    }


pipeline = pf.chain(extract, pf.group(clean, stats), report)
