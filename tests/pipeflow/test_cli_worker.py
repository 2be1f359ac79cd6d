"""`pipeflow worker` and `pipeflow decider`: usage errors through the real entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeflow.cli import main


def invoke(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return int(info.value.code or 0), err


@pytest.mark.parametrize("command", ["worker", "decider"])
def test_the_domain_is_required(capsys: pytest.CaptureFixture[str], command: str, tmp_path: Path) -> None:
    code, err = invoke(capsys, command, str(tmp_path / "p.py"))
    assert code == 2
    assert "--domain" in err


@pytest.mark.parametrize("command", ["worker", "decider"])
def test_a_missing_file(capsys: pytest.CaptureFixture[str], command: str, tmp_path: Path) -> None:
    code, err = invoke(capsys, command, str(tmp_path / "absent.py"), "--domain", "d")
    assert code == 2
    assert "No pipeline file at" in err


def test_a_file_with_a_syntax_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "cli_worker_syntax.py"
    path.write_text("x = (\n")
    code, err = invoke(capsys, "worker", str(path), "--domain", "d")
    assert code == 2
    assert f"Syntax error in {path}, line 1" in err
