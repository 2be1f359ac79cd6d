"""Every example pipeline runs on the embedded engine with the expected result."""

from __future__ import annotations

from pathlib import Path

import pytest

import pipeflow as pf
from pipeflow._loader import load_pipeline

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).parents[2] / "examples" / "pipelines"


def test_wordcount() -> None:
    loaded = load_pipeline(str(EXAMPLES / "wordcount.py"))
    result = pf.run(loaded.target, input="The cat and the hat. The END, the end!", workers=1)
    assert result == [["the", 4], ["end", 2], ["and", 1], ["cat", 1], ["hat", 1]]


def test_etl_passes_dataframes_between_steps() -> None:
    loaded = load_pipeline(str(EXAMPLES / "etl.py"))
    spec = {"rows": 50_000, "seed": 7}
    result = pf.run(loaded.target, input=spec, workers=2)
    etl = loaded.module
    raw = etl.extract.fn(spec)
    assert result == etl.report.fn([etl.clean.fn(raw), etl.stats.fn(raw)])
    assert result["rows"] == 50_000 and 0 < result["dropped"] < 5_000


def test_etl_offloads_large_frames_to_the_default_store() -> None:
    loaded = load_pipeline(str(EXAMPLES / "etl.py"))
    result = pf.run(loaded.target, input={"rows": 400_000, "seed": 1}, workers=2)
    assert result["rows"] == 400_000
    assert any(Path(".pipeflow/payloads").rglob("*")), "nothing was offloaded"


def test_fanout_counts_primes_with_map() -> None:
    loaded = load_pipeline(str(EXAMPLES / "fanout.py"))
    result = pf.run(loaded.target, input={"limit": 20_000, "chunks": 4}, workers=2)
    assert result["primes"] == 2262  # primes below 20,000
    assert len(result["per_chunk"]) == 4
