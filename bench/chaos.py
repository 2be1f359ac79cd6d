"""Chaos (issue 13): faults injected into real processes, and what they cost.

Schedules, each against its own fresh `pipeflow server --db` (or embedded folder):
  worker death  one 2 s task with default options; its worker is SIGKILLed 1 s in (and restarted).
                Cost: wall time minus the fault-free run's; target <= heartbeat timeout + 5 s.
  60 s outage   a 200-item map; the server is SIGKILLed, kept down 60 s, restarted on the same port
                and database. Target cost <= 60 s + 10 s.
  chaos         a map of --items activities (default 2,000; 50 ms each) with DEFAULT task options, 1 decider and 2
                workers (restarted whenever they die, as Restart=always), 10 faults: worker SIGKILL x3,
                decider SIGKILL x2, server SIGKILL + restart x3, a 60 s outage, and a disk-full episode
                (the server restarted under RLIMIT_FSIZE at its files' current size for 15 s, then
                restarted normally).
  embedded      `pipeflow run` of a map, SIGINT (exit 130), `pipeflow resume FILE RUN`, SIGKILL of that,
                `pipeflow resume FILE RUN` again.
Each line: faults injected, runs completed correctly, wall time against the fault-free run,
duplicate completions (an activity completed twice in a history), and lost acknowledged events
(events the server had answered with before a restart, missing or changed after the last one).
Targets: 100% correct, 0 duplicates, 0 lost; worker death <= heartbeat + 5 s; 60 s outage <= 70 s.

Run: `.venv/bin/python bench/chaos.py` (about 8 minutes; `--items N` for a smaller chaos map,
`--outage S` for a shorter outage).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeflow.task import DEFAULT_HEARTBEAT  # noqa: E402
from tests._support import chaos  # noqa: E402
from tests._support.servers import TEST_CREDENTIALS  # noqa: E402

TARGETS = (f"100% correct, 0 duplicates, 0 lost; worker death <= heartbeat + 5 s = {DEFAULT_HEARTBEAT + 5} s; "
           "60 s outage <= 70 s")


def tmp() -> Path:
    return Path(tempfile.mkdtemp(prefix="pipeflow-chaos-"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=2000, help="activities in the chaos map")
    parser.add_argument("--outage", type=float, default=60.0, help="seconds the server stays down")
    parser.add_argument("--only", choices=("worker", "outage", "chaos", "embedded"), action="append")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each fault as it is injected")
    args = parser.parse_args()
    os.environ.update(TEST_CREDENTIALS)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    only = set(args.only or ("worker", "outage", "chaos", "embedded"))
    say = (lambda text: print(text, flush=True)) if args.verbose else None
    print(f"targets: {TARGETS}", flush=True)

    if "worker" in only:
        base = chaos.lonely(tmp(), kill=False)
        dead = chaos.lonely(tmp(), kill=True)
        report = chaos.Report(name="worker death", faults=1, runs=1, correct=1, wall=dead, baseline=base, lost=None)
        print(report.line(f"cost <= heartbeat {DEFAULT_HEARTBEAT} s + 5 s = {DEFAULT_HEARTBEAT + 5} s"), flush=True)

    if "outage" in only:
        items = 200
        free = chaos.run_map(tmp(), items=items, attr="chaos", task_seconds=0.1)
        report = chaos.run_map(tmp(), items=items, attr="chaos", faults=("outage",), outage=args.outage,
                               task_seconds=0.1, spacing=3.0, say=say)
        report.name, report.baseline = f"{args.outage:.0f} s outage ({items} items)", free.wall
        print(report.line(f"cost <= {args.outage:.0f} s + 10 s"), flush=True)
        _notes(report, args.verbose)

    if "chaos" in only:
        free = chaos.run_map(tmp(), items=args.items, attr="chaos", task_seconds=0.05)
        report = chaos.run_map(tmp(), items=args.items, attr="chaos", faults=chaos.CHAOS_FAULTS, task_seconds=0.05,
                               outage=args.outage, disk_full=15.0, spacing=2.0, say=say)
        report.name, report.baseline = f"chaos ({args.items} items, default options)", free.wall
        print(report.line("100% correct, 0 duplicates, 0 lost"), flush=True)
        _notes(report, True)

    if "embedded" in only:
        items = 200
        plain = chaos.embedded(tmp(), items=items, faults=False)
        report = chaos.embedded(tmp(), items=items, faults=True)
        report.name, report.baseline = f"embedded ({items} items, SIGINT + resume, SIGKILL + resume)", plain.wall
        print(report.line("100% correct, 0 duplicates"), flush=True)
        _notes(report, args.verbose)


def _notes(report: chaos.Report, show: bool) -> None:
    if show or not report.correct:
        print(f"    faults: {', '.join(report.fault_log)}", flush=True)
        for note in report.notes:
            print(f"    {note[:3000]}", flush=True)


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"(bench/chaos.py took {time.monotonic() - started:.0f} s)")
