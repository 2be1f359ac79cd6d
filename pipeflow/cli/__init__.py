"""The `pipeflow` command line: thin click commands over the library; exit codes decided in one place (`_exit.main`)."""

from . import _config, _fleet, _logs, _run, _runs, _tools, _ui  # noqa: F401  (their commands join the group on import)
from ._exit import main
from ._group import cli

__all__ = [
    "cli",
    "main",
]
