"""Large values cross steps through S3 on a moto server: a 5 MB payload and a 1,000,000-row DataFrame.

Each run is the real `pipeflow run --backend swf --s3-bucket` command against moto
(SWF and S3); the last step summarises what it received (length, sha256, column
sums), so the result shows the value arrived intact, and the bucket and the
history show it went through S3.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

BUCKET, PREFIX = "payloads", "runs"
PAYLOAD_SIZE = 5_000_000
ROWS = 1_000_000

PIPELINES = """
import hashlib
import random

import pipeflow as pf


@pf.task
def make_bytes(spec):
    return random.Random(spec["seed"]).randbytes(spec["size"])


@pf.task
def digest(data):
    return {"type": type(data).__name__, "length": len(data), "sha256": hashlib.sha256(data).hexdigest()}


@pf.task
def make_frame(spec):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(spec["seed"])
    rows = spec["rows"]
    return pd.DataFrame({
        "id": np.arange(rows, dtype="int64"),
        "amount": rng.integers(-1_000_000, 1_000_000, rows),
        "ratio": rng.random(rows),
        "flag": rng.random(rows) < 0.3,
        "label": pd.Series(rng.integers(0, 1000, rows)).map("item-{}".format),
        "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 86_400, rows), unit="s"),
    })


@pf.task
def summarise(frame):
    import pandas as pd

    return {
        "type": type(frame).__name__,
        "rows": len(frame),
        "columns": list(frame.columns),
        "dtypes": [str(t) for t in frame.dtypes],
        "id": int(frame["id"].sum()),
        "amount": int(frame["amount"].sum()),
        "ratio": float(frame["ratio"].sum()),
        "flag": int(frame["flag"].sum()),
        "label_chars": int(frame["label"].str.len().sum()),
        "label_item_7": int((frame["label"] == "item-7").sum()),
        "when": int((frame["when"] - pd.Timestamp("2024-01-01")).dt.total_seconds().sum()),
    }


payload = pf.chain(make_bytes, digest)
frame = pf.chain(make_frame, summarise)
"""


def run_on_moto(moto_url: str, cwd: Path, target: str, input: dict[str, Any]) -> dict[str, Any]:
    """`pipeflow run TARGET --backend swf --s3-bucket payloads/runs` on moto; its --json output."""
    (cwd / "payloads_pipeline.py").write_text(textwrap.dedent(PIPELINES))
    done = subprocess.run(
        [sys.executable, "-m", "pipeflow", "run", f"payloads_pipeline.py:{target}", "--input", json.dumps(input),
         "--backend", "swf", "--domain", f"test-{uuid.uuid4().hex[:12]}", "--endpoint-url", moto_url,
         "--s3-bucket", f"{BUCKET}/{PREFIX}", "--workers", "1", "--no-progress", "--json"],
        cwd=cwd, env={**os.environ, "AWS_ENDPOINT_URL_S3": moto_url}, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    assert out["status"] == "COMPLETED"
    return out


def s3(moto_url: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")


def objects(moto_url: str) -> dict[str, int]:
    """Key -> size of every object under the bucket's prefix."""
    pages = s3(moto_url).get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{PREFIX}/")
    return {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])}


def step_results(moto_url: str, out: dict[str, Any]) -> list[str]:
    """The result field of each ActivityTaskCompleted event of the run, in order."""
    import boto3

    swf = boto3.client("swf", endpoint_url=moto_url, region_name="us-east-1")
    domain = next(d["name"] for d in swf.list_domains(registrationStatus="REGISTERED")["domainInfos"])
    execution = {"workflowId": out["workflow_id"], "runId": out["run_id"]}
    events = swf.get_workflow_execution_history(domain=domain, execution=execution)["events"]
    return [e["activityTaskCompletedEventAttributes"].get("result", "") for e in events
            if e["eventType"] == "ActivityTaskCompleted"]


@pytest.mark.slow
def test_a_5mb_payload_crosses_steps_through_s3(moto_url: str, tmp_path: Path) -> None:
    import random

    s3(moto_url).create_bucket(Bucket=BUCKET)
    out = run_on_moto(moto_url, tmp_path, "payload", {"seed": 11, "size": PAYLOAD_SIZE})
    expected = random.Random(11).randbytes(PAYLOAD_SIZE)
    assert out["result"] == {"type": "bytes", "length": PAYLOAD_SIZE, "sha256": hashlib.sha256(expected).hexdigest()}
    made, _ = step_results(moto_url, out)
    assert made.startswith("ref/1:") and len(made) < 1000  # a reference in the history, the bytes in S3
    big = [size for key, size in objects(moto_url).items() if size >= PAYLOAD_SIZE]
    assert len(big) == 1 and big[0] < PAYLOAD_SIZE + 1000, objects(moto_url)


@pytest.mark.slow
def test_a_million_row_dataframe_crosses_steps_through_s3(moto_url: str, tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd

    s3(moto_url).create_bucket(Bucket=BUCKET)
    out = run_on_moto(moto_url, tmp_path, "frame", {"seed": 5, "rows": ROWS})
    rng = np.random.default_rng(5)
    amount, ratio, flag = rng.integers(-1_000_000, 1_000_000, ROWS), rng.random(ROWS), rng.random(ROWS) < 0.3
    labels = pd.Series(rng.integers(0, 1000, ROWS)).map("item-{}".format)
    seconds = rng.integers(0, 86_400, ROWS)
    result = out["result"]
    assert result == {
        "type": "DataFrame",
        "rows": ROWS,
        "columns": ["id", "amount", "ratio", "flag", "label", "when"],
        "dtypes": result["dtypes"],  # checked below, loosely: pandas versions name string dtypes differently
        "id": ROWS * (ROWS - 1) // 2,
        "amount": int(amount.sum()),
        "ratio": result["ratio"],
        "flag": int(flag.sum()),
        "label_chars": int(labels.str.len().sum()),
        "label_item_7": int((labels == "item-7").sum()),
        "when": int(seconds.sum()),  # seconds after 2024-01-01
    }
    assert result["dtypes"][:4] == ["int64", "int64", "float64", "bool"]
    assert result["dtypes"][5].startswith("datetime64")
    assert result["ratio"] == pytest.approx(float(ratio.sum()), rel=1e-12)
    made, _ = step_results(moto_url, out)
    assert made.startswith("ref/1:pandas/1:")  # the frame went as Parquet, by reference
    size = int(made.split(":")[2])
    assert size > 1_000_000 and size in objects(moto_url).values()
