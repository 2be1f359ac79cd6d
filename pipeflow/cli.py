"""The `pipeflow` command line: thin click commands over the library.

Exit codes are decided in one place, `main`:

==  =====================================================================
0   success
1   the pipeline ran and failed (failing step, error and run id on stderr)
2   usage error: bad file, missing attribute, unparsable input, bad flag
3   a value could not cross SWF: encode/decode error, payload too large,
    tampered object, store unreachable
4   the engine or SWF refused a call or cannot be reached
130 interrupted
==  =====================================================================
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from ._errors import EngineError, PipelineError, PipeflowError, RunFailed, TaskFailed

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_ENGINE = 4
EXIT_INTERRUPTED = 130


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More logging on stderr (-vv for debug).")
@click.version_option(package_name="pipeflow")
def cli(verbose: int) -> None:
    """Data pipelines on Amazon SWF, and on one machine with no setup."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--port", default=5005, show_default=True, type=int, help="TCP port (0 picks a free one).")
@click.option("--db", type=click.Path(dir_okay=False), default=None, help="SQLite file for durable state (default: in memory).")
def server(host: str, port: int, db: str | None) -> None:
    """Serve the embedded SWF-compatible engine over HTTP (SWF's JSON 1.0 protocol)."""
    from .engine import serve

    serve(host=host, port=port, db=db)


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
    except (TaskFailed, RunFailed) as exc:
        _error(str(exc))
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
