"""The `pipeflow` command line: thin click commands over the library.

Exit codes are decided in one place, `main`:

==  =====================================================================
0   success
1   the pipeline ran and failed (failing step, error and run id on stderr)
2   usage error: bad file, missing attribute, unparsable input, bad flag
3   a value could not cross SWF: encode/decode error, payload too large,
    tampered object, store unreachable
4   the engine or SWF refused a call or cannot be reached
5   the run was canceled (`pipeflow cancel`); the run id and the reason on stderr
130 interrupted
==  =====================================================================
"""

from __future__ import annotations

import sys
from typing import Any

import click

from .._errors import (
    EngineError,
    PipeflowError,
    PipelineError,
    RunCanceled,
    RunFailed,
    TaskFailed,
)
from ._group import cli

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_ENGINE = 4
EXIT_CANCELED = 5
EXIT_INTERRUPTED = 130


def _error(message: str) -> None:
    click.echo(f"Error: {message}", err=True)


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the console script; maps exceptions to exit codes."""
    import converters

    try:
        cli.main(args=argv, prog_name="pipeflow", standalone_mode=False)
    except click.exceptions.Abort:
        _error("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        _error("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE if exc.exit_code == 2 else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except RunCanceled as exc:
        _error(str(exc))  # "run <id> was canceled[: reason]"
        sys.exit(EXIT_CANCELED)
    except (TaskFailed, RunFailed) as exc:
        _error(f"{exc} (run {exc.run_id})" if exc.run_id else str(exc))
        sys.exit(EXIT_FAILED)
    except PipelineError as exc:
        _error(str(exc))
        sys.exit(EXIT_USAGE)
    except converters.ConverterError as exc:
        _error(str(exc))
        sys.exit(EXIT_DATA)
    except EngineError as exc:
        _error(str(exc))
        sys.exit(EXIT_ENGINE)
    except PipeflowError as exc:
        _error(str(exc))
        sys.exit(EXIT_FAILED)
    sys.exit(EXIT_OK)
