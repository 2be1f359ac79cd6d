"""Benchmark converters: codec speed beside the raw libraries, and offload memory on moto S3.

Run: .venv/bin/python bench/converters.py [--quick]

Speed: for payloads of about 1 KB, 1 MB and 50 MB (the size of json.dumps(value) for
json and msgpack, which share one value of records; the frame's in-memory size for
pandas), encode+decode MB/s of `converters.dumps/loads` (inline, threshold=inf) beside
the raw library on the same value, and the ratio of their times (>1 = slower than raw).
Local: the same frame offloaded to a local-directory store and read back (Arrow IPC
there, Parquet before), dumps and loads timed apart, medians, beside pandas' own
to_parquet/read_parquet through a file.
Offload: a 1,000,000-row, 10-column DataFrame is written to a moto S3 server and read
back, each in a fresh subprocess; peak RSS growth over the process's baseline (after
imports) is printed against the frame's in-memory size.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import msgpack  # noqa: E402

import converters  # noqa: E402

SIZES = {"1 KB": 1_000, "1 MB": 1_000_000, "50 MB": 50_000_000}
TARGETS = {("json", "1 MB"): 1.25, ("json", "50 MB"): 1.25, ("msgpack", "1 MB"): 1.15, ("msgpack", "50 MB"): 1.15}
ROWS = 1_000_000


def records(target: int) -> dict[str, Any]:
    """A JSON-like value of about `target` bytes of json.dumps: records of mixed scalars."""
    rng = random.Random(7)

    def record(i: int) -> dict[str, Any]:
        return {
            "id": i,
            "name": f"customer-{i}",
            "email": f"c{i}@example.com",
            "score": rng.random() * 100,
            "visits": rng.randint(0, 10_000),
            "active": i % 3 == 0,
            "tags": ["new", "vip", "eu"][: i % 4],
            "parent": None,
        }

    per = len(json.dumps(record(10**6)))
    rows = [record(i) for i in range(max(1, target // per))]
    return {"rows": rows, "meta": {"source": "bench", "count": len(rows)}}


def frame(target_bytes: int) -> Any:
    import numpy as np
    import pandas as pd

    rows = max(1, target_bytes // 64)
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype="int64"),
            "a": rng.random(rows),
            "b": rng.random(rows),
            "c": rng.integers(0, 1000, rows),
            "d": rng.integers(0, 10, rows).astype("float64"),
            "e": np.arange(rows, dtype="float64") / 3,
            "f": rng.integers(0, 2**40, rows),
            "g": rng.random(rows),
        }
    )


def best(fn: Callable[[], Any], budget: float) -> float:
    """Best time of one call, repeating for about `budget` seconds (at least 3 runs)."""
    fn()
    times = []
    deadline = time.perf_counter() + budget
    while len(times) < 3 or time.perf_counter() < deadline:
        inner = 1
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        if elapsed < 0.01:  # tiny payloads: time a batch
            inner = max(1, int(0.02 / max(elapsed, 1e-7)))
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            elapsed = time.perf_counter() - start
        times.append(elapsed / inner)
        if len(times) >= 30:
            break
    return min(times)


def speed(quick: bool) -> None:
    inf = math.inf
    print("codec speed: encode+decode, inline envelopes (threshold=inf), best of several runs")
    print(f"{'payload':>7} {'codec':>8} {'bytes':>11} {'raw MB/s':>9} {'ours MB/s':>10} {'ratio':>6}  target")
    for label, size in SIZES.items():
        if quick and size > 1_000_000:
            continue
        budget = 2.0 if size <= 1_000_000 else 4.0
        value = records(size)
        text = json.dumps(value)
        packed = msgpack.packb(value)
        cases: list[tuple[str, int, Callable[[], Any], Callable[[], Any]]] = [
            (
                "json",
                len(text),
                lambda: json.loads(json.dumps(value)),
                lambda: converters.loads(converters.dumps(value, codec="json", threshold=inf)),
            ),
            (
                "msgpack",
                len(packed),
                lambda: msgpack.unpackb(msgpack.packb(value)),
                lambda: converters.loads(converters.dumps(value, codec="msgpack", threshold=inf)),
            ),
        ]
        import pandas as pd

        df = frame(size)
        df_bytes = int(df.memory_usage(deep=True).sum())

        def raw_parquet() -> Any:
            buf = io.BytesIO()
            df.to_parquet(buf)
            return pd.read_parquet(io.BytesIO(buf.getvalue()))

        cases.append(
            ("pandas", df_bytes, raw_parquet, lambda: converters.loads(converters.dumps(df, codec="pandas", threshold=inf)))
        )
        for name, nbytes, raw, ours in cases:
            t_raw = best(raw, budget)
            t_ours = best(ours, budget)
            ratio = t_ours / t_raw
            target = TARGETS.get((name, label))
            verdict = "-" if target is None else f"<= {target:.2f} {'ok' if ratio <= target else 'MISSED'}"
            print(
                f"{label:>7} {name:>8} {nbytes:>11,} {nbytes / t_raw / 1e6:>9.1f} {nbytes / t_ours / 1e6:>10.1f} "
                f"{ratio:>6.2f}  {verdict}",
                flush=True,
            )
        del value, text, packed, df


def big_frame() -> Any:
    """The 1,000,000-row, 10-column frame of the offload bench: numbers, a tz-aware time, a categorical, strings."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "id": np.arange(ROWS, dtype="int64"),
            "price": rng.random(ROWS) * 100,
            "qty": rng.integers(0, 1000, ROWS, dtype="int32"),
            "ratio": rng.random(ROWS),
            "score": rng.normal(size=ROWS),
            "when": pd.date_range("2024-01-01", periods=ROWS, freq="s", tz="UTC"),
            "flag": rng.random(ROWS) < 0.5,
            "kind": pd.Categorical(rng.choice(["a", "b", "c", "d"], ROWS)),
            "count": pd.array(rng.integers(0, 100, ROWS), dtype="Int64"),
            "label": pd.Series([f"item-{i % 5000}" for i in range(ROWS)], dtype="str"),
        }
    )


def local(repeat: int = 7) -> None:
    import statistics
    import tempfile

    import pandas as pd

    df = big_frame()
    print(f"\nlocal store: {ROWS:,}-row, 10-column DataFrame ({df.memory_usage(deep=True).sum() / 1e6:.1f} MB) "
          f"offloaded to a directory and read back; medians of {repeat}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "raw.parquet"
        store = Path(tmp) / "store"
        raw_w, raw_r, ours_w, ours_r = [], [], [], []
        ref = ""
        for _ in range(repeat):  # alternated, so both see the same load
            start = time.perf_counter()
            df.to_parquet(path)
            raw_w.append(time.perf_counter() - start)
            start = time.perf_counter()
            pd.read_parquet(path)
            raw_r.append(time.perf_counter() - start)
            for old in store.glob("*"):
                old.unlink()
            start = time.perf_counter()
            ref = converters.dumps(df, store=store)
            ours_w.append(time.perf_counter() - start)
            start = time.perf_counter()
            out = converters.loads(ref, store=store)
            ours_r.append(time.perf_counter() - start)
        pd.testing.assert_frame_equal(out, df)
        parsed = converters.Reference.parse(ref)
        med = statistics.median
        print(f"  raw pandas Parquet file: write {med(raw_w) * 1e3:.0f} ms, read {med(raw_r) * 1e3:.0f} ms, "
              f"{path.stat().st_size / 1e6:.1f} MB")
        print(f"  converters {parsed.codec}/{parsed.version}: dumps {med(ours_w) * 1e3:.0f} ms, loads {med(ours_r) * 1e3:.0f} ms, "
              f"{parsed.size / 1e6:.1f} MB (sha256 both ways); round trip {(med(ours_w) + med(ours_r)) / (med(raw_w) + med(raw_r)):.2f}x "
              f"raw Parquet", flush=True)


def rss_child(mode: str, url: str, ref: str) -> None:
    """Runs in a fresh process: write or read the big frame, report peak RSS as JSON."""
    import os

    import pandas as pd
    import psutil

    os.environ["AWS_ENDPOINT_URL_S3"] = url
    store = converters.open_store("s3://bench/frames")
    store.exists("warm-up")  # builds and exercises the client before the baseline
    import pyarrow.parquet  # noqa: F401  (imports count in the baseline, not the payload)

    def vm_hwm() -> int:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))

    def reset_peak() -> None:
        # Linux: writing 5 resets the peak RSS (VmHWM), so the peak is the operation's own.
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")

    if mode == "write":
        df = big_frame()
    before = psutil.Process().memory_info().rss
    reset_peak()
    start = time.perf_counter()
    if mode == "write":
        out = converters.dumps(df, store=store)
    else:
        df = converters.loads(ref, store=store)
        out = ref
    seconds = time.perf_counter() - start
    peak = vm_hwm()
    report = {
        "ref": out,
        "seconds": seconds,
        "frame_bytes": int(df.memory_usage(deep=True).sum()),
        "before": before,
        "peak": peak,
        "dtypes": {str(k): str(v) for k, v in df.dtypes.items()},
        "checksum": int(pd.util.hash_pandas_object(df, index=True).sum()),
        "shape": list(df.shape),
    }
    print(json.dumps(report))


def offload() -> None:
    import boto3

    sys.path.insert(0, str(ROOT))
    from tests._support.servers import moto_server

    print(f"\noffload: {ROWS:,}-row, 10-column DataFrame to moto S3 and back (fresh subprocess each)")
    with moto_server() as url:
        boto3.client("s3", endpoint_url=url, aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1").create_bucket(
            Bucket="bench"
        )
        env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
        import os

        env = {**os.environ, **env}
        reports = {}
        ref = ""
        for mode in ("write", "read"):
            proc = subprocess.run(
                [sys.executable, __file__, "--rss-child", mode, url, ref], capture_output=True, text=True, env=env, check=False
            )
            if proc.returncode != 0:
                print(proc.stderr[-3000:])
                raise SystemExit(f"{mode} child failed")
            reports[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
            ref = reports[mode]["ref"]
    parsed = converters.Reference.parse(ref)
    print(f"reference: {ref[:80]}... ({len(ref)} chars); object {parsed.size / 1e6:.1f} MB of Parquet")
    print("peak RSS of the operation = frame + growth of RSS during dumps (write) or loads (read)")
    for mode in ("write", "read"):
        r = reports[mode]
        growth = r["peak"] - r["before"]
        held = growth + (r["frame_bytes"] if mode == "write" else 0)
        ratio = held / r["frame_bytes"]
        print(
            f"{mode:>5}: {r['seconds']:.2f} s, frame {r['frame_bytes'] / 1e6:.1f} MB in memory, RSS before "
            f"{r['before'] / 1e6:.0f} MB, peak during {r['peak'] / 1e6:.0f} MB (+{growth / 1e6:.0f} MB), "
            f"peak held {held / 1e6:.0f} MB = {ratio:.2f}x the frame (target < 2.5x: {'ok' if ratio < 2.5 else 'MISSED'})"
        )
    same = all(reports["write"][k] == reports["read"][k] for k in ("checksum", "shape", "dtypes"))
    print(f"read back equals written frame: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 50 MB payloads")
    parser.add_argument("--no-offload", action="store_true")
    parser.add_argument("--no-speed", action="store_true", help="skip the codec speed table")
    parser.add_argument("--rss-child", nargs=3, metavar=("MODE", "URL", "REF"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(*args.rss_child)
        return
    if not args.no_speed:
        speed(args.quick)
    local()
    if not args.no_offload:
        offload()


if __name__ == "__main__":
    main()
