"""`import pipeflow` stays light: no pandas, pyarrow, boto3 or matplotlib at import time."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("pandas", "pyarrow", "boto3", "botocore", "matplotlib", "smart_open")


def test_import_pipeflow_is_light() -> None:
    code = (
        "import sys, pipeflow, converters; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
