"""Settings: flags over the environment over `[tool.pipeflow]` / `pipeflow.toml` over defaults, each with its source."""

from ._settings import KEYS, Setting, Settings, SettingsError, apply_to_environment, find_file, load_settings

__all__ = [
    "KEYS",
    "Setting",
    "Settings",
    "SettingsError",
    "apply_to_environment",
    "find_file",
    "load_settings",
]
