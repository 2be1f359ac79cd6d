"""Compile the Python sources a bench times into bytecode first, as an installed package has it.

`pip install` writes each module's bytecode (`__pycache__/*.pyc`) when it installs; a peer
installed with pip (simpleflow in its cache folder) has it. A source tree may not: an editable
install writes bytecode at the first import, unless PYTHONDONTWRITEBYTECODE is set, as it is on
some machines (this one), and then every process compiles every module it imports, a stale one
after each edit. A bench that times whole commands would count that compilation for pipeflow
and not for its peer, and more for an older tree (`--before`) than for this one.
"""

from __future__ import annotations

import compileall
from pathlib import Path

__all__ = ["compile_tree"]

PACKAGES = ("pipeflow", "converters")


def compile_tree(root: Path, *more: Path) -> None:
    """Write up-to-date bytecode for pipeflow's packages under `root` and for the folders `more` (quietly)."""
    for folder in [*(root / name for name in PACKAGES), *more]:
        if folder.is_dir() and not compileall.compile_dir(str(folder), quiet=1):
            raise SystemExit(f"cannot compile {folder}: fix the syntax error above first")
