"""Settings: flags > environment > the nearest pipeflow.toml / pyproject.toml [tool.pipeflow] > defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeflow.cli import main
from pipeflow.config import SettingsError, apply_to_environment, find_file, load_settings

CLEAN = ("PIPEFLOW_BACKEND", "PIPEFLOW_DOMAIN", "PIPEFLOW_STORE", "PIPEFLOW_WORKERS", "AWS_ENDPOINT_URL_SWF",
         "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE")


@pytest.fixture(autouse=True)
def _clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CLEAN:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def invoke(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_defaults_without_file_or_environment(tmp_path: Path) -> None:
    settings = load_settings(cwd=tmp_path)
    assert settings.file is None
    assert settings.value("backend") is None and settings["backend"].source == "default"


def test_precedence_flag_env_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.pipeflow]\nbackend = "swf"\ndomain = "file"\nworkers = 3\n')
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    settings = load_settings({"domain": None}, environ={"PIPEFLOW_DOMAIN": "env"}, cwd=nested)
    assert settings.file == tmp_path / "pyproject.toml"
    assert settings["domain"].value == "env" and settings["domain"].source == "env PIPEFLOW_DOMAIN"
    assert settings["backend"].source == f"{tmp_path / 'pyproject.toml'}:[tool.pipeflow]"
    assert settings.value("workers") == 3
    flagged = load_settings({"domain": "flag"}, environ={"PIPEFLOW_DOMAIN": "env"}, cwd=nested)
    assert flagged["domain"].value == "flag" and flagged["domain"].source == "flag"


def test_pipeflow_toml_and_a_pyproject_without_the_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert find_file(tmp_path) is None
    (tmp_path / "pipeflow.toml").write_text('store = "s3://b/p"\n')
    settings = load_settings(environ={}, cwd=tmp_path)
    assert settings.value("store") == "s3://b/p" and settings["store"].source == str(tmp_path / "pipeflow.toml")


def test_aws_variables_are_botocores(tmp_path: Path) -> None:
    settings = load_settings(environ={"AWS_ENDPOINT_URL": "http://all:1", "AWS_ENDPOINT_URL_S3": "http://s3:2",
                                      "AWS_DEFAULT_REGION": "eu-west-1"}, cwd=tmp_path)
    assert settings["endpoint_url"].source == "env AWS_ENDPOINT_URL"
    assert settings.value("s3_endpoint_url") == "http://s3:2"
    assert settings["region"].source == "env AWS_DEFAULT_REGION"


def test_file_aws_keys_become_the_variables(tmp_path: Path) -> None:
    (tmp_path / "pipeflow.toml").write_text('endpoint_url = "http://127.0.0.1:9"\nregion = "eu-west-3"\n')
    environ: dict[str, str] = {"AWS_REGION": "us-west-2"}
    previous = apply_to_environment(load_settings(environ=environ, cwd=tmp_path), environ)
    assert environ == {"AWS_REGION": "us-west-2", "AWS_ENDPOINT_URL_SWF": "http://127.0.0.1:9"}
    assert previous == {"AWS_ENDPOINT_URL_SWF": None}


@pytest.mark.parametrize(("environ", "text", "words"), [
    ({"PIPEFLOW_BACKEND": "foo"}, None, ["PIPEFLOW_BACKEND", "'embedded'"]),
    ({"PIPEFLOW_WORKERS": "many"}, None, ["PIPEFLOW_WORKERS", "whole number"]),
    ({}, "backend = [", ["pipeflow.toml", "not valid TOML"]),
    ({}, 'colour = "red"', ["unknown key", "colour"]),
    ({}, 'endpoint_url = "localhost:5005"', ["endpoint_url", "http://"]),
])
def test_bad_values_name_their_origin(tmp_path: Path, environ: dict[str, str], text: str | None,
                                      words: list[str]) -> None:
    if text is not None:
        (tmp_path / "pipeflow.toml").write_text(text)
    with pytest.raises(SettingsError) as info:
        load_settings(environ=environ, cwd=tmp_path)
    for word in words:
        assert word in str(info.value)


def test_config_command_table_and_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.pipeflow]\ndomain = "d"\n')
    monkeypatch.setenv("PIPEFLOW_BACKEND", "swf")
    code, out, _ = invoke(capsys, "config", "--store", "/tmp/x")
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines() if not line.startswith("(")}
    assert rows["backend"].split()[1:] == ["swf", "env", "PIPEFLOW_BACKEND"]
    assert rows["domain"].endswith("pyproject.toml:[tool.pipeflow]")
    assert rows["store"].split()[1:] == ["/tmp/x", "flag"]
    assert rows["workers"].split()[2] == "default"
    code, out, _ = invoke(capsys, "config", "--json")
    doc = json.loads(out)
    assert doc["settings"]["domain"] == {"value": "d", "source": f"{tmp_path / 'pyproject.toml'}:[tool.pipeflow]"}


def test_a_bad_setting_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PIPEFLOW_BACKEND", "foo")
    code, out, err = invoke(capsys, "runs")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "PIPEFLOW_BACKEND" in err


def test_settings_fill_the_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """PIPEFLOW_DOMAIN is ignored by the embedded backend; with PIPEFLOW_BACKEND=swf it is the domain."""
    monkeypatch.setenv("PIPEFLOW_DOMAIN", "d")
    code, out, err = invoke(capsys, "runs", "--json")
    assert "go with --backend swf" not in err  # nothing ran here: the embedded state is missing, no more
    assert "no run was started here" in err
    # SWF with no credentials at all: one line saying what to export, exit 2, before any call
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("PIPEFLOW_BACKEND", "swf")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SWF", "http://127.0.0.1:9")
    code, out, err = invoke(capsys, "runs")
    assert code == 2, err
    assert "no AWS credentials" in err and "AWS_ACCESS_KEY_ID" in err and "http://127.0.0.1:9" in err
