"""The `pipeflow` command line: thin click commands over the library.

Exit codes are decided in one place, `main`, the same for every command (README, "Exit codes"):

===  =========================================================================================
0    completed
1    a step failed (or the run failed or timed out): step, task, attempt, error, run id and the
     last frames of the remote traceback on stderr (all of it with -v); `pipeflow rerun`: the step raised
2    usage: bad pipeline file or attribute, unparsable input, bad flags, unknown run, bad store URI
3    data: a value could not cross SWF (encode/decode error, payload too large, tampered object,
     store unreachable), also when a step's result or input could not be encoded or decoded
4    the engine or SWF refused a call or cannot be reached
5    the run was canceled (`pipeflow cancel`) or terminated; the run id and the reason on stderr
130  interrupted
===  =========================================================================================
"""

from __future__ import annotations

import gc
import logging
import sys
from typing import Any

import click

from .._errors import (
    EngineError,
    PipeflowError,
    PipelineError,
    RunCanceled,
    RunFailed,
    RunTerminated,
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

TRACEBACK_FRAMES = 5  # frames of a failed step's remote traceback shown without -v
# SWF's fault for a name that does not exist (a run, a workflow id, the engine state here): a usage error
_UNKNOWN = "UnknownResourceFault"


def _error(message: str) -> None:
    click.echo(f"Error: {message}", err=True)


def exit_code(exc: BaseException) -> int:
    """The exit code of a command that raised `exc` (the table above)."""
    import converters

    if isinstance(exc, (KeyboardInterrupt, click.exceptions.Abort)):
        return EXIT_INTERRUPTED
    if isinstance(exc, (RunCanceled, RunTerminated)):
        return EXIT_CANCELED
    if isinstance(exc, TaskFailed):
        return EXIT_DATA if exc.data else EXIT_FAILED
    if isinstance(exc, RunFailed):
        return EXIT_FAILED
    if isinstance(exc, PipelineError):
        return EXIT_USAGE
    if isinstance(exc, converters.ConverterError):
        return EXIT_DATA
    if isinstance(exc, EngineError):
        return EXIT_USAGE if exc.code == _UNKNOWN else EXIT_ENGINE
    return EXIT_FAILED


def _traceback(text: str, frames: int | None) -> list[str]:
    """A remote traceback's lines without its header, only the last `frames` frames (all when None)."""
    lines = [line for line in text.rstrip().splitlines() if not line.startswith("Traceback (most recent call last)")]
    starts = [i for i, line in enumerate(lines) if line.startswith('  File "')]
    if frames is not None and len(starts) > frames:
        lines = [f"  ... {len(starts) - frames} earlier frames (-v shows them)", *lines[starts[-frames]:]]
    return lines


def report_failure(exc: TaskFailed | RunFailed) -> None:
    """What a failed run prints on stderr: the step's remote traceback, then one line naming step, task, attempt and error.

    The line comes last, as Python's own traceback ends with the error, so it is what a terminal shows.
    """
    if isinstance(exc, TaskFailed) and exc.log_tail:
        click.echo(f"last lines of the log of step {exc.step} (attempt {exc.attempt}; all of it: "
                   f"pipeflow logs {exc.workflow_id or exc.run_id} {exc.step}):", err=True)
        for line in exc.log_tail.splitlines():
            click.echo(f"  | {line}", err=True)
    # A value pipeflow could not encode or decode (`data`): the message names it and the fix; the
    # traceback would be pipeflow's own frames.
    if isinstance(exc, TaskFailed) and exc.remote_traceback and not exc.data:
        verbose = logging.getLogger("pipeflow").getEffectiveLevel() <= logging.INFO
        click.echo(f"remote traceback of step {exc.step} (task {exc.task}, attempt {exc.attempt}):", err=True)
        for line in _traceback(exc.remote_traceback, None if verbose else TRACEBACK_FRAMES):
            click.echo(f"  {line}", err=True)
    _error(f"{exc} (run {exc.run_id})" if exc.run_id else str(exc))


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the console script; maps exceptions to exit codes.

    Called as the process's entry point (no `argv`), it leaves the objects it made to the exit,
    outside the cyclic collector's last pass (`gc.freeze`): after a 4,000-step run that pass
    took 25-30 ms of the command's time, and the process frees everything as it ends anyway.
    """
    try:
        _main(argv)
    finally:
        if argv is None:
            gc.freeze()


def _main(argv: list[str] | None) -> Any:
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
    except (RunCanceled, RunTerminated) as exc:
        _error(str(exc))  # "run <id> was canceled[: reason]"
        sys.exit(exit_code(exc))
    except (TaskFailed, RunFailed) as exc:
        report_failure(exc)
        sys.exit(exit_code(exc))
    except (PipeflowError, converters.ConverterError) as exc:
        _error(str(exc))
        sys.exit(exit_code(exc))
    sys.exit(EXIT_OK)
