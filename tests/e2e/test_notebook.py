"""examples/notebooks/quickstart.ipynb, executed by a real Jupyter kernel (nbclient + ipykernel)."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent.parent
NOTEBOOK = REPO / "examples" / "notebooks" / "quickstart.ipynb"
COLUMNS = ["step", "task", "attempt", "status", "scheduled", "started", "closed", "duration", "worker", "input_size",
           "result_size", "error", "kind", "child_workflow_id", "child_run_id", "parent", "depth"]


def _output(cell: Any, kind: str) -> str:
    """The cell's `kind` output (text/plain, image/png, ...) of its result or display."""
    for output in cell["outputs"]:
        if output["output_type"] in ("execute_result", "display_data") and kind in output["data"]:
            return str(output["data"][kind])
    raise AssertionError(f"no {kind} output in cell {cell['source']!r}: {cell['outputs']!r}")


def test_quickstart_notebook(tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    # The repository's layout, so the notebook's relative paths hold; the kernel runs in notebooks/.
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "pipelines").mkdir()
    shutil.copy(REPO / "examples" / "pipelines" / "etl.py", tmp_path / "pipelines" / "etl.py")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path / "notebooks")}})
    client.execute()

    cells = {cell["source"].splitlines()[0]: cell for cell in notebook.cells if cell["cell_type"] == "code"}
    for cell in cells.values():
        errors = [o for o in cell["outputs"] if o["output_type"] == "error"]
        assert not errors, errors
    assert "COMPLETED" in _output(cells["run.wait()"], "text/html")
    assert _output(cells["result = run.result()"], "text/plain") == "(100000, 95021, 4979)"
    rows, columns = ast.literal_eval(_output(cells["len(tasks), list(tasks.columns)"], "text/plain"))
    assert rows == 4 and columns == COLUMNS
    assert _output(cells["run.timeline()"], "image/png")
    assert "<table" in _output(cells["client.runs()"], "text/html")
    preview = _output(cells['sales = client.submit("../pipelines/etl.py:extract", input={"rows": 100_000, "seed": 7})'],
                      "text/plain")
    assert len(preview.splitlines()) == 1 + 5  # header and five rows
    assert (tmp_path / "notebooks" / ".pipeflow" / "state.sqlite").is_file()
