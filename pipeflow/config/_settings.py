"""Where pipeflow's settings come from, the way the AWS tools do it.

Precedence, highest first: a command's flags, the environment (`PIPEFLOW_*` and the standard
`AWS_*` variables), the nearest settings file (searching up from the working directory: a
`pipeflow.toml`, top-level keys, or a `pyproject.toml` with a `[tool.pipeflow]` table), the
defaults. Read when a command starts (never at import), and only there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import PipelineError

__all__ = ["KEYS", "Setting", "Settings", "SettingsError", "apply_to_environment", "find_file", "load_settings"]

BACKENDS = ("embedded", "swf")

# key: (environment variables, first set wins; what the default means)
KEYS: dict[str, tuple[tuple[str, ...], str]] = {
    "backend": (("PIPEFLOW_BACKEND",), "embedded"),
    "domain": (("PIPEFLOW_DOMAIN",), "none: --backend swf needs one"),
    "store": (("PIPEFLOW_STORE",), "./.pipeflow/payloads"),
    "endpoint_url": (("AWS_ENDPOINT_URL_SWF", "AWS_ENDPOINT_URL"), "Amazon SWF, or the AWS profile's endpoint"),
    "s3_endpoint_url": (("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"), "Amazon S3, or the AWS profile's endpoint"),
    "region": (("AWS_REGION", "AWS_DEFAULT_REGION"), "the AWS profile's, else us-east-1"),
    "profile": (("AWS_PROFILE",), "boto3's default credential chain"),
    "workers": (("PIPEFLOW_WORKERS",), "the CPU count"),
}
# The AWS settings a file can give: applied as the variable botocore reads, so every client of the
# process (SWF, S3 through the converters, worker processes) sees them.
_AWS_VARIABLE = {
    "endpoint_url": "AWS_ENDPOINT_URL_SWF",
    "s3_endpoint_url": "AWS_ENDPOINT_URL_S3",
    "region": "AWS_REGION",
    "profile": "AWS_PROFILE",
}
FILE_NAMES = ("pipeflow.toml", "pyproject.toml")
_MAX_FILE = 1 << 20


class SettingsError(PipelineError):
    """A setting with a bad value, or a settings file that cannot be read (exit 2)."""

    def __init__(self, message: str, *, origin: str | None = None) -> None:
        super().__init__(message)
        self.origin = origin


@dataclass(frozen=True)
class Setting:
    """One resolved setting: its value (None: unset) and where it came from."""

    key: str
    value: str | int | None
    source: str  # "flag", "env NAME", "<file>:[tool.pipeflow]", "default"

    @property
    def is_default(self) -> bool:
        return self.source == "default"


@dataclass(frozen=True)
class Settings:
    """The resolved settings of this process, with the file they were read from (if any)."""

    items: dict[str, Setting] = field(default_factory=dict)
    file: Path | None = None

    def __getitem__(self, key: str) -> Setting:
        return self.items[key]

    def value(self, key: str) -> Any:
        return self.items[key].value

    def as_json(self) -> dict[str, Any]:
        return {
            "file": str(self.file) if self.file else None,
            "settings": {key: {"value": s.value, "source": s.source} for key, s in self.items.items()},
        }


def find_file(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest `pipeflow.toml`, or `pyproject.toml` with a `[tool.pipeflow]` table, from `start` up."""
    folder = Path(start if start is not None else os.getcwd()).resolve()
    for directory in (folder, *folder.parents):
        for name in FILE_NAMES:
            path = directory / name
            if not path.is_file():
                continue
            if name == "pipeflow.toml" or "pipeflow" in _read_toml(path).get("tool", {}):
                return path
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        with path.open("rb") as fh:
            data = fh.read(_MAX_FILE + 1)
        if len(data) > _MAX_FILE:
            raise SettingsError(f"{path} is over 1 MiB: not a settings file", origin=str(path))
        return tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path} is not valid TOML ({exc}): fix it, or move it away", origin=str(path)) from None
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {exc.strerror or exc}", origin=str(path)) from None


def _table(path: Path) -> tuple[dict[str, Any], str]:
    """The settings table of `path` and how to name it in a source."""
    data = _read_toml(path)
    if path.name == "pipeflow.toml":
        return data, str(path)
    table = data.get("tool", {}).get("pipeflow", {})
    where = f"{path}:[tool.pipeflow]"
    if not isinstance(table, dict):
        raise SettingsError(f"{where} must be a table of settings", origin=where)
    return table, where


def _check(key: str, value: Any, origin: str) -> str | int | None:
    """`value` of `key` as a setting, or SettingsError naming `origin` and the fix."""
    if key == "workers":
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise SettingsError(f"workers {value!r} from {origin} is not a number: give a whole number >= 1",
                                    origin=origin) from None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SettingsError(f"workers {value!r} from {origin}: give a whole number >= 1", origin=origin)
        return value
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(f"{key} from {origin} must be a non-empty string, not {value!r}", origin=origin)
    text: str = value.strip()
    if key == "backend" and text not in BACKENDS:
        raise SettingsError(f"backend {text!r} from {origin} is not one of {', '.join(BACKENDS)}: "
                            f"set it to 'embedded' (this machine) or 'swf' (Amazon SWF, a pipeflow server)",
                            origin=origin)
    if key in ("endpoint_url", "s3_endpoint_url") and not text.startswith(("http://", "https://")):
        raise SettingsError(f"{key} {text!r} from {origin} is not a URL: give http://HOST:PORT or https://...",
                            origin=origin)
    return text


def load_settings(
    flags: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> Settings:
    """Resolve every key of KEYS: `flags` (None values ignored) > `environ` > the nearest file > defaults.

    Raises SettingsError (a bad value, an unknown key, a file that is not TOML), naming where it came from.
    """
    environ = os.environ if environ is None else environ
    path = find_file(cwd)
    table, where = _table(path) if path is not None else ({}, "")
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise SettingsError(f"{where} has unknown key(s) {', '.join(unknown)}: the keys are {', '.join(KEYS)}",
                            origin=where)
    items: dict[str, Setting] = {}
    for key, (variables, _) in KEYS.items():
        flag = (flags or {}).get(key)
        if flag is not None:
            items[key] = Setting(key, _check(key, flag, f"--{key.replace('_', '-')}"), "flag")
            continue
        variable = next((name for name in variables if environ.get(name, "").strip()), None)
        if variable is not None:
            items[key] = Setting(key, _check(key, environ[variable], variable), f"env {variable}")
        elif key in table:
            items[key] = Setting(key, _check(key, table[key], where), where)
        else:
            items[key] = Setting(key, None, "default")
    return Settings(items, path)


def apply_to_environment(settings: Settings, environ: MutableMapping[str, str] | None = None) -> dict[str, str | None]:
    """Set the AWS variables (and PIPEFLOW_STORE) that `settings` took from a file; returns what to restore.

    botocore, the converters' S3 store and child processes then all see them. Variables already
    set are left alone (they won over the file anyway).
    """
    environ = os.environ if environ is None else environ
    variables = {**_AWS_VARIABLE, "store": "PIPEFLOW_STORE"}
    previous: dict[str, str | None] = {}
    for key, variable in variables.items():
        setting = settings[key]
        if setting.value is None or setting.source in ("default", "flag") or setting.source.startswith("env "):
            continue
        previous[variable] = environ.get(variable)
        environ[variable] = str(setting.value)
    return previous
