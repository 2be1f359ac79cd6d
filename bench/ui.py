"""Time `pipeflow ui`: first byte and full render in Chromium of the runs page and of large runs' pages.

A temp folder gets 1,000 runs of a one-step pipeline, a map of 4,000 attempts and a 20,000-item
map that shards itself; then `pipeflow ui` serves it (nobody else holds the state) and each page
is timed: time to first byte over HTTP (cold: the first request; warm: the median of the next
ones), and the full render in headless Chromium (navigation to the load event).
Targets: runs page under 300 ms, the 4,000-attempt run page under 1 s, the sharded map under 2 s.
Run: .venv/bin/python bench/ui.py [--runs 1000] [--width 4000] [--sharded 20000]
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

one = inc
wide = pf.chain(pf.map(inc), total)
'''


def first_byte(url: str) -> float:
    began = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        response.read(1)
        took = time.perf_counter() - began
        response.read()
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--width", type=int, default=4000)
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
        wide = client.submit(pipes + ":wide", list(range(args.width))).wait(600, progress=False)
        sharded = client.submit(pipes + ":wide", list(range(args.sharded))).wait(900, progress=False) \
            if args.sharded else None
    print(f"set-up: {args.runs + 2} runs in {time.perf_counter() - began:.1f} s")
    proc, url = start_ui(folder)
    pages = [(f"runs page ({args.runs + 2} runs)", url + "/runs", 0.3),
             (f"run page (map of {args.width} attempts)", url + "/run?" + urllib.parse.urlencode(
                 {"wf": wide.workflow_id, "run": wide.run_id}), 1.0)]
    if sharded is not None:
        pages.append((f"run page (sharded map of {args.sharded} items)", url + "/run?" + urllib.parse.urlencode(
            {"wf": sharded.workflow_id, "run": sharded.run_id}), 2.0))
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
            tab = browser.new_page()
            for label, page_url, target in pages:
                cold = first_byte(page_url)
                warm = statistics.median(first_byte(page_url) for _ in range(args.repeat))
                renders = []
                for _ in range(args.repeat):
                    start = time.perf_counter()
                    tab.goto(page_url, wait_until="load")
                    renders.append(time.perf_counter() - start)
                render = statistics.median(renders)
                verdict = "ok" if render < target else "OVER"
                print(f"{label}: first byte {cold * 1000:.0f} ms cold, {warm * 1000:.0f} ms warm; "
                      f"full render {render * 1000:.0f} ms (target {target * 1000:.0f} ms: {verdict})")
            browser.close()
    finally:
        stop(proc)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
