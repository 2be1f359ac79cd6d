"""MkDocs hooks: reference tables generated from the code, so they cannot drift from it.

`<!-- pipeflow: exit-codes -->` becomes the table in the docstring of `pipeflow/cli/_exit.py` (the one
place exit codes are decided); `<!-- pipeflow: settings -->` the keys of `pipeflow.config.KEYS`.
"""

from __future__ import annotations

import re
from typing import Any


def exit_code_rows() -> list[tuple[str, str]]:
    """(code, meaning) pairs of the reStructuredText table in `pipeflow.cli._exit`'s docstring."""
    import inspect

    from pipeflow.cli import main

    rows: list[tuple[str, str]] = []
    for line in (inspect.getdoc(inspect.getmodule(main)) or "").splitlines():
        if line.startswith("==="):
            continue
        match = re.match(r"^(\d+)\s+(.*)$", line)
        if match:
            rows.append((match[1], match[2].strip()))
        elif rows and line.startswith("     ") and line.strip():
            code, meaning = rows[-1]
            rows[-1] = (code, f"{meaning} {line.strip()}")
    return rows


def _exit_codes() -> str:
    lines = ["| code | meaning |", "| --- | --- |"]
    lines += [f"| {code} | {meaning.replace('|', '&#124;')} |" for code, meaning in exit_code_rows()]
    return "\n".join(lines)


def _settings() -> str:
    from pipeflow.config import KEYS

    lines = ["| key | environment (first set wins) | default |", "| --- | --- | --- |"]
    for key, (variables, default) in KEYS.items():
        names = ", ".join(f"`{name}`" for name in variables)
        lines.append(f"| `{key}` | {names} | {default} |")
    return "\n".join(lines)


_GENERATED = {"exit-codes": _exit_codes, "settings": _settings}


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace each `<!-- pipeflow: NAME -->` marker by the table NAME generated from the code."""
    return re.sub(r"<!-- pipeflow: ([a-z-]+) -->", lambda m: _GENERATED[m[1]](), markdown)
