"""pipeflow beside its peers, whole commands from process start to exit: medians of alternated runs and ratios.

    .venv/bin/python bench/peers.py [--runs 5] [--only wide,chain,fanout,etl]

Shapes (bench/pipelines/peers.py and peers_simpleflow.py):
- wide: a map of `inc` over 4,000 numbers, summed;
- chain: 100 `inc` in a chain;
- fanout: a map of `inc` over 1,000 numbers, summed;
each as `pipeflow run peers.py:SHAPE --input ...` (embedded engine, state in a fresh folder's
./.pipeflow/) against `simpleflow workflow.start --local` (simpleflow 0.36's local executor, which
calls the activities in its own process). simpleflow is installed on first use with pip into
~/.cache/pipeflow-bench/simpleflow-0.36 (--target), outside the project's dependencies, and reached
through PYTHONPATH.
- etl: examples/pipelines/etl.py over 1,000,000 rows (extract -> group(clean, stats) -> report)
with `pipeflow run` against a process that imports the same file and calls the functions directly.

Runs alternate (pipeflow, peer, pipeflow, ...) so a busy shared machine slows both alike. Each
side's CPU time (user + sys of the command and the processes it waited for) is printed too: on a
loaded machine it is the steadier figure. `--before TREE` adds a third side, the pipeflow of an
earlier checkout, alternated with the others, and prints after/before.
Targets (issue 17): pipeflow at most 1.0x simpleflow on wide, chain and fanout; the ETL at most
1.6x the direct calls.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _bytecode import compile_tree

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PIPELINES = HERE / "pipelines"
ETL = ROOT / "examples" / "pipelines" / "etl.py"
CACHE = Path(os.environ.get("PIPEFLOW_BENCH_CACHE", Path.home() / ".cache" / "pipeflow-bench"))
SIMPLEFLOW = CACHE / "simpleflow-0.36"
PIPEFLOW = [sys.executable, "-m", "pipeflow"]
TARGETS = {"wide": 1.0, "chain": 1.0, "fanout": 1.0, "etl": 1.6}
ETL_INPUT = {"rows": 1_000_000, "seed": 7}
DIRECT_ETL = """
import json, sys
sys.path.insert(0, {folder!r})
import etl
spec = json.loads(sys.argv[1])
sales = etl.extract.fn(spec) if hasattr(etl.extract, "fn") else etl.extract(spec)
call = lambda t, *a: (t.fn if hasattr(t, "fn") else t)(*a)
print(json.dumps(call(etl.report, [call(etl.clean, sales), call(etl.stats, sales)])))
"""


def simpleflow_ready() -> Path:
    """The folder simpleflow 0.36 is installed in, installing it on first use."""
    if not (SIMPLEFLOW / "simpleflow" / "__init__.py").exists():
        print(f"installing simpleflow 0.36 into {SIMPLEFLOW} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(SIMPLEFLOW),
                        "simpleflow==0.36.*"], check=True)
    return SIMPLEFLOW


def shapes(width: int, fanout: int) -> dict[str, tuple[list[str], list[str], str]]:
    """Per shape: the pipeflow command, the peer's command, and the result both must print."""
    numbers, items = list(range(width)), list(range(fanout))
    wide_sum, fanout_sum = str(width * (width + 1) // 2), str(fanout * (fanout + 1) // 2)

    def sf(workflow: str, value: object) -> list[str]:
        return [sys.executable, "-m", "simpleflow", "workflow.start", "--local", "--input", json.dumps([value]),
                f"peers_simpleflow.{workflow}"]

    def pf(attr: str, value: object) -> list[str]:
        return [*PIPEFLOW, "run", f"{PIPELINES / 'peers.py'}:{attr}", "--no-progress", "--input", json.dumps(value)]

    etl_input = json.dumps(ETL_INPUT)
    return {
        "wide": (pf("wide", numbers), sf("Wide", numbers), wide_sum),
        "chain": (pf("chain", 0), sf("Steps", 0), "100"),
        "fanout": (pf("fanout", items), sf("Fanout", items), fanout_sum),
        "etl": ([*PIPEFLOW, "run", str(ETL), "--no-progress", "--input", etl_input],
                [sys.executable, "-c", DIRECT_ETL.format(folder=str(ETL.parent)), etl_input], '"clean_rows"'),
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], env: dict[str, str], cwd: str, expected: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and the processes it waited for)."""
    cpu, start = _children_cpu(), time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0 or expected not in done.stdout:
        raise SystemExit(f"{' '.join(command)[:200]} failed ({done.returncode}):\n{done.stdout[-2000:]}"
                         f"\n{done.stderr[-4000:]}")
    return wall, _children_cpu() - cpu


def once(command: list[str], env: dict[str, str], expected: str) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="pipeflow-peers-") as cwd:  # a fresh ./.pipeflow/ each run
        return timed(command, env, cwd, expected)


def medians(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(w for w, _ in samples), statistics.median(c for _, c in samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="alternated runs of each side")
    parser.add_argument("--only", default="wide,chain,fanout,etl", help="shapes, comma-separated")
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--fanout", type=int, default=1000)
    parser.add_argument("--pipeflow-tree", type=Path, default=None,
                        help="run the pipeflow of this source tree (a checkout of an earlier commit), for before/after")
    parser.add_argument("--before", type=Path, default=None,
                        help="also run the pipeflow of this source tree, alternated with the others: after/before")
    args = parser.parse_args()
    chosen = [name for name in args.only.split(",") if name]
    peer_env = dict(os.environ)
    if set(chosen) - {"etl"}:
        peer_env["PYTHONPATH"] = os.pathsep.join([str(simpleflow_ready()), str(PIPELINES)])
    pf_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if args.pipeflow_tree is not None:  # ahead of the installed (editable) pipeflow on the path
        pf_env["PYTHONPATH"] = str(args.pipeflow_tree.resolve())
    before_env = None
    if args.before is not None:
        before_env = {**pf_env, "PYTHONPATH": str(args.before.resolve())}
    # Bytecode for every side, as an installed package has it (bench/_bytecode.py says why).
    for tree in [ROOT, *(t for t in (args.pipeflow_tree, args.before) if t is not None)]:
        compile_tree(tree.resolve(), PIPELINES, ETL.parent)
    print(f"cpus {os.cpu_count()}, {args.runs} alternated runs each, medians (whole commands; bytecode compiled first)")
    for name, (ours, theirs, expected) in shapes(args.width, args.fanout).items():
        if name not in chosen:
            continue
        own: list[tuple[float, float]] = []
        peer: list[tuple[float, float]] = []
        before: list[tuple[float, float]] = []
        for _ in range(args.runs):
            own.append(once(ours, pf_env, expected))
            peer.append(once(theirs, peer_env, expected))
            if before_env is not None:
                before.append(once(ours, before_env, expected))
        (mine, mine_cpu), (other, other_cpu) = medians(own), medians(peer)
        ratio = mine / other
        peer_name = "direct calls" if name == "etl" else "simpleflow 0.36 local"
        verdict = "met" if ratio <= TARGETS[name] else "missed"
        print(f"{name:>6}: pipeflow {mine:.3f} s, {peer_name} {other:.3f} s, ratio {ratio:.2f}x "
              f"(target <= {TARGETS[name]:.1f}x: {verdict}); CPU {mine_cpu:.3f} s vs {other_cpu:.3f} s, "
              f"{mine_cpu / other_cpu:.2f}x", flush=True)
        if before:
            was, was_cpu = medians(before)
            print(f"{name:>6}: pipeflow before {was:.3f} s (CPU {was_cpu:.3f} s), after {mine:.3f} s "
                  f"(CPU {mine_cpu:.3f} s): after/before {mine / was:.2f}x wall, {mine_cpu / was_cpu:.2f}x CPU",
                  flush=True)


if __name__ == "__main__":
    main()
