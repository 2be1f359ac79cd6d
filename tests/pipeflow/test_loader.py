"""Loading `FILE[:ATTR]`: what is found, and the one-paragraph message for each mistake."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from pipeflow import PipelineLoadError
from pipeflow._loader import load_file, load_pipeline, parse_spec

GOOD = """
import pipeflow as pf

@pf.task
def a(x):
    return x

@pf.task
def b(x):
    return x

@pf.task
def unused(x):
    return x

pipeline = pf.chain(a, b)
other = pf.group(a, unused)
not_a_pipeline = 42
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("p.py", ("p.py", None)),
        ("p.py:etl", ("p.py", "etl")),
        ("dir/p.py:etl", ("dir/p.py", "etl")),
        ("weird:name.py", ("weird:name.py", None)),
    ],
)
def test_parse_spec(spec: str, expected: tuple[str, str]) -> None:
    assert parse_spec(spec) == expected


def test_loads_the_default_attribute_and_every_reachable_task(tmp_path: Path) -> None:
    path = write(tmp_path, "good_one.py", GOOD)
    loaded = load_pipeline(str(path))
    assert loaded.attr == "pipeline"
    assert loaded.module.__name__ == "good_one"
    assert sorted(t.fn.__name__ for t in loaded.tasks) == ["a", "b", "unused"]


def test_loading_twice_gives_the_same_module(tmp_path: Path) -> None:
    path = write(tmp_path, "good_twice.py", GOOD)
    assert load_file(path) is load_file(path)


def test_a_named_attribute(tmp_path: Path) -> None:
    path = write(tmp_path, "good_named.py", GOOD)
    assert load_pipeline(f"{path}:other").attr == "other"


def test_a_file_named_like_a_stdlib_module_does_not_replace_it(tmp_path: Path) -> None:
    import json

    path = write(tmp_path, "json.py", GOOD)
    load_pipeline(str(path))
    assert sys.modules["json"] is json


def error_of(spec: str) -> str:
    with pytest.raises(PipelineLoadError) as info:
        load_pipeline(spec)
    message = str(info.value)
    assert "Traceback" not in message and "\n" not in message
    return message


def test_missing_file(tmp_path: Path) -> None:
    assert "No pipeline file at" in error_of(str(tmp_path / "nope.py"))


def test_directory(tmp_path: Path) -> None:
    assert "is a directory" in error_of(str(tmp_path))


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "broken_syntax.py", "import pipeflow\n\ndef f(:\n    pass\n")
    message = error_of(str(path))
    assert message.startswith(f"Syntax error in {path}, line 3")


def test_import_error_inside_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "bad_import.py", "import os\nimport no_such_module_xyz\n")
    message = error_of(str(path))
    assert "no_such_module_xyz" in message and "line 2" in message


def test_module_code_that_raises(tmp_path: Path) -> None:
    path = write(tmp_path, "raises_at_import.py", "x = 1\nraise RuntimeError('nope')\n")
    message = error_of(str(path))
    assert "RuntimeError: nope" in message and "line 2" in message


def test_missing_attribute_lists_the_pipelines_there(tmp_path: Path) -> None:
    path = write(tmp_path, "good_missing.py", GOOD)
    message = error_of(f"{path}:etl")
    assert "has no attribute 'etl'" in message
    assert "a, b, other, pipeline, unused" in message


def test_missing_attribute_in_a_file_without_pipelines(tmp_path: Path) -> None:
    path = write(tmp_path, "empty_file.py", "x = 1\n")
    assert "defines no pipeline" in error_of(str(path))


def test_not_a_pipeline(tmp_path: Path) -> None:
    path = write(tmp_path, "good_wrong.py", GOOD)
    assert "is a int, not a pipeline" in error_of(f"{path}:not_a_pipeline")
