"""Time `pipeflow ui`: first byte and full render in Chromium of the runs page and of large runs' pages.

A temp folder gets 1,000 runs of a one-step pipeline; a run of 4,000 attempts in ONE history (a
group of four maps of 1,000 items, each under the size past which a map shards itself); and a
20,000-item map that shards itself (its page shows its shards, links to their child runs).
Then `pipeflow ui` serves it (nobody else holds the state) and each page is timed COLD: a fresh
server for each page, its first request: time to first byte over HTTP, then the full render in
headless Chromium (a fresh server again; navigation to the load event). Warm figures (the median
of the next visits of the same page on that server) come second. The 4,000-attempt page's bars
and the sharded page's shard rows are counted in the browser, so the page is known to show them.
Targets (on the cold figures): runs page under 300 ms, the 4,000-attempt run page under 1 s,
the sharded map under 2 s. Opening the state (what each cold page pays first) is timed on its own.
Run: .venv/bin/python bench/ui.py [--runs 1000] [--width 1000] [--sharded 20000]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pipeflow as pf  # noqa: E402
from tests.ui.conftest import start_ui, stop  # noqa: E402

PIPES = '''
import pipeflow as pf

@pf.task
def inc(x: int) -> int:
    return x + 1

@pf.task
def total(values: list) -> int:
    return sum(values)

@pf.task
def count(lists: list) -> int:
    return sum(len(values) for values in lists)

one = inc
wide = pf.chain(pf.map(inc), total)
flat = pf.chain(pf.group(pf.map(inc), pf.map(inc), pf.map(inc), pf.map(inc)), count)  # 4 maps, one history
'''


def first_byte(url: str) -> float:
    began = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        response.read(1)
        took = time.perf_counter() - began
        response.read()
    return took


def render(tab: Any, url: str) -> float:
    start = time.perf_counter()
    tab.goto(url, wait_until="load")
    return time.perf_counter() - start


def opening(db: Path, repeat: int) -> str:
    """What opening the state costs (each page's first request opens it): time, and executions read into memory."""
    from pipeflow.engine import Engine

    times, held = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        engine = Engine(db=db)
        times.append(time.perf_counter() - start)
        held = getattr(engine, "held_runs", -1)  # -1: an engine that does not say (it loads every run)
        engine.close()
    return f"opening the state: median {statistics.median(times) * 1000:.0f} ms, {held} executions in memory"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--width", type=int, default=1000, help="items of each of the four maps of one history")
    parser.add_argument("--sharded", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="pipeflow-bench-ui-"))
    (folder / "pipes.py").write_text(PIPES)
    began = time.perf_counter()
    with pf.Client(state_dir=folder / ".pipeflow") as client:
        pipes = str(folder / "pipes.py")
        runs = [client.submit(pipes + ":one", i) for i in range(args.runs)]
        for run in runs:
            run.wait(600, progress=False)
        flat = client.submit(pipes + ":flat", list(range(args.width)))
        flat.wait(600, progress=False)
        sharded = client.submit(pipes + ":wide", list(range(args.sharded))) if args.sharded else None
        if sharded is not None:
            sharded.wait(900, progress=False)
        attempts = len(flat.tasks())
        shards = sum(sharded.tasks()["kind"] == "shard") if sharded is not None else 0
    total = args.runs + 1 + (sharded is not None)
    print(f"set-up: {total} runs in {time.perf_counter() - began:.1f} s; the flat run has {attempts} attempts "
          f"in one history, the sharded map {shards} shards")
    print(opening(folder / ".pipeflow" / "state.sqlite", args.repeat))
    ids = lambda run: urllib.parse.urlencode({"wf": run.workflow_id, "run": run.run_id})  # noqa: E731
    pages = [(f"runs page ({total} runs)", "/runs", 0.3, "tr.run-row"),
             (f"run page ({attempts} attempts, one history)", "/run?" + ids(flat), 1.0, "#timeline svg.gantt g.a")]
    if sharded is not None:
        pages.append((f"run page (map of {args.sharded} items in {shards} shards)", "/run?" + ids(sharded), 2.0,
                      "#tree li.k-shard"))
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
            tab = browser.new_page()
            for label, path, target, counted in pages:
                proc, url = start_ui(folder)  # a fresh server: nothing of this page read or cached yet
                try:
                    cold = first_byte(url + path)
                    warm = statistics.median(first_byte(url + path) for _ in range(args.repeat))
                finally:
                    stop(proc)
                proc, url = start_ui(folder)
                try:
                    cold_render = render(tab, url + path)
                    shown = tab.locator(counted).count()
                    warm_render = statistics.median(render(tab, url + path) for _ in range(args.repeat))
                finally:
                    stop(proc)
                verdict = "ok" if cold_render < target and cold < target else "OVER"
                print(f"{label}: cold: first byte {cold * 1000:.0f} ms, full render {cold_render * 1000:.0f} ms "
                      f"(target {target * 1000:.0f} ms: {verdict}); warm: first byte {warm * 1000:.0f} ms, "
                      f"full render {warm_render * 1000:.0f} ms; shows {shown} {counted!r}")
            browser.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
