"""The 3-step pandas ETL (examples/pipelines/etl.py) through pipeflow against the same functions called directly.

    .venv/bin/python bench/etl.py [--rows 1000000] [--repeat 7] [--before /copy/of/the/tree/before/a/change]

Every measurement is a fresh process, and the kinds alternate (pipeflow, direct, pipeflow,
...; with --before, the old tree's pipeflow beside this one's), reported as medians, since
the machine may be shared:

- `pipeflow run`: the CLI in a fresh directory (embedded engine, worker pool, frames
  offloaded to ./.pipeflow/payloads), against a process that imports the same file and
  calls extract, clean, stats and report; start-up and imports included in both;
- warm: a process that runs `pf.run(pipeline, store=<temp dir>)` once, then times a second
  run, against one that does the same with the direct calls. Each kind has a process of its
  own: after the direct calls, a parent holding their freed memory forks slower workers.

Target: pipeflow at most 1.6x the direct calls for 1,000,000 rows.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _bytecode import compile_tree

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TARGET = 1.6
PIPEFLOW = Path(sys.executable).with_name("pipeflow")

_WARM = """
import importlib.util, json, sys, tempfile, time
import pipeflow as pf
spec = importlib.util.spec_from_file_location("etl", sys.argv[1])
etl = importlib.util.module_from_spec(spec)
spec.loader.exec_module(etl)
value = json.loads(sys.argv[2])
def direct():
    sales = etl.extract.fn(value)
    return etl.report.fn([etl.clean.fn(sales), etl.stats.fn(sales)])
def through_pipeflow():
    with tempfile.TemporaryDirectory() as store:
        return pf.run(etl.pipeline, input=value, store=store)
run = through_pipeflow if sys.argv[3] == "pipeflow" else direct
for _ in range(2):  # the first run warms imports and caches; the second is timed
    start = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - start
print(json.dumps([seconds, result]))
"""

_COLD = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("etl", sys.argv[1])
etl = importlib.util.module_from_spec(spec)
spec.loader.exec_module(etl)
sales = etl.extract.fn(json.loads(sys.argv[2]))
print(json.dumps(etl.report.fn([etl.clean.fn(sales), etl.stats.fn(sales)])))
"""


def env_for(root: Path) -> dict[str, str]:
    """The code of the tree at `root`, not the installed one: a copy of the tree benchmarks its own code."""
    return {**os.environ, "PYTHONPATH": str(root)}


def etl_of(root: Path) -> str:
    return str(root / "examples" / "pipelines" / "etl.py")


def cli_pipeflow(root: Path, spec: str) -> tuple[float, object]:
    with tempfile.TemporaryDirectory() as cwd:
        start = time.perf_counter()
        out = subprocess.run([str(PIPEFLOW), "run", etl_of(root), "--input", spec], cwd=cwd, capture_output=True,
                             text=True, check=True, env=env_for(root))
        return time.perf_counter() - start, json.loads(out.stdout)


def cli_direct(root: Path, spec: str) -> tuple[float, object]:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _COLD, etl_of(root), spec], capture_output=True, text=True, check=True,
                         env=env_for(root))
    return time.perf_counter() - start, json.loads(out.stdout)


def warm(root: Path, spec: str, mode: str) -> tuple[float, object]:
    out = subprocess.run([sys.executable, "-c", _WARM, etl_of(root), spec, mode], capture_output=True, text=True,
                         check=True, env=env_for(root))
    seconds, result = json.loads(out.stdout.strip().splitlines()[-1])
    return float(seconds), result


def report(label: str, times: dict[str, list[float]], repeat: int) -> None:
    direct = statistics.median(times["direct"])
    for name, values in times.items():
        if name == "direct":
            continue
        ours = statistics.median(values)
        ratio = ours / direct
        print(f"{label} {name:>6}: pipeflow {ours:.2f} s, direct {direct:.2f} s, {ratio:.2f}x "
              f"(medians of {repeat} alternated; pipeflow {min(values):.2f}-{max(values):.2f}, direct "
              f"{min(times['direct']):.2f}-{max(times['direct']):.2f}) target <= {TARGET}x: "
              f"{'ok' if ratio <= TARGET else 'MISSED'}", flush=True)


def measure(label: str, trees: dict[str, Path], direct: Callable[[], tuple[float, object]],
            ours: Callable[[Path], tuple[float, object]], repeat: int) -> None:
    times: dict[str, list[float]] = {name: [] for name in [*trees, "direct"]}
    expected = direct()[1]  # and warms the page cache and the .pyc files
    for _ in range(repeat):
        for name, root in trees.items():
            seconds, result = ours(root)
            assert result == expected, (name, result, expected)
            times[name].append(seconds)
        seconds, _ = direct()
        times["direct"].append(seconds)
    report(label, times, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--before", type=Path, help="a copy of the tree before a change, run alternately with this one")
    args = parser.parse_args()
    spec = json.dumps({"rows": args.rows, "seed": 7})
    trees = {"after": ROOT} if args.before is None else {"before": args.before.resolve(), "after": ROOT}
    for tree in trees.values():  # bytecode for every side, as an installed package has it (bench/_bytecode.py)
        compile_tree(tree, ROOT / "examples" / "pipelines")
    print(f"ETL of {args.rows:,} rows: extract -> group(clean, stats) -> report ({os.cpu_count()} CPUs); "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    measure("pipeflow run (fresh process)", trees, lambda: cli_direct(ROOT, spec), lambda root: cli_pipeflow(root, spec),
            args.repeat)
    measure("pf.run (warm process)       ", trees, lambda: warm(ROOT, spec, "direct"),
            lambda root: warm(root, spec, "pipeflow"), args.repeat)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
