"""Run one docs page's examples, in order, in the working directory: `python _runner.py BLOCKS.json`.

BLOCKS.json is a list of {"kind": "python"|"bash"|"file", "name", "code", "where"}. Python blocks share
one namespace; a failing block prints where it is on the page and exits 1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback
import types
from pathlib import Path


def _bash(block: dict[str, str]) -> bool:
    """Run a bash block with `set -e`; the variables it sets stay for the next blocks, as in one terminal."""
    saved = Path(".docs-test-env")
    script = f"set -a\n{block['code']}\nenv -0 > {saved.name}\n"
    done = subprocess.run(["bash", "-e", "-c", script], check=False)
    if done.returncode:
        print(f"\nFAILED: the bash block at {block['where']} exited {done.returncode}", file=sys.stderr)
        return False
    if saved.exists():
        os.environ.clear()
        os.environ.update(item.split("=", 1) for item in saved.read_text().split("\0") if "=" in item)
        saved.unlink()
    return True


def main(path: str) -> int:
    blocks = json.loads(Path(path).read_text(encoding="utf-8"))
    sys.path.insert(0, os.getcwd())  # as `python` run in this folder: its files import each other
    # A fresh __main__, as a script `example.py` in this folder has: tasks are named `example.<function>`.
    main_module = types.ModuleType("__main__")
    main_module.__file__ = os.path.join(os.getcwd(), "example.py")
    sys.modules["__main__"] = main_module
    namespace = main_module.__dict__
    for block in blocks:
        started = time.monotonic()
        if block["kind"] == "file":
            Path(block["name"]).write_text(block["code"], encoding="utf-8")
        elif block["kind"] == "bash":
            if not _bash(block):
                return 1
        else:
            try:
                exec(compile(block["code"], block["where"], "exec"), namespace)  # noqa: S102 - running the docs' examples is the point
            except BaseException:  # noqa: BLE001 - any failure of an example is reported with its place on the page
                traceback.print_exc()
                print(f"\nFAILED: the python block at {block['where']}", file=sys.stderr)
                return 1
        print(f"[docs test: block at {block['where']}: {time.monotonic() - started:.1f} s]")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
