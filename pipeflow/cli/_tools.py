"""`pipeflow rerun`, `diff`, `stats`: the tools to debug and measure runs."""

from __future__ import annotations

import sys
import traceback
from types import TracebackType

import click

from ._exit import EXIT_FAILED, _error
from ._group import cli
from ._run import check_store
from ._runs import _JSON, _backend_options, _check_backend


@cli.command()
@click.argument("target", metavar="FILE[:ATTR]")
@click.argument("run_id", metavar="RUN")
@click.argument("step")
@click.option("--attempt", type=click.IntRange(min=1), default=None, help="Which attempt's input [default: the last].")
@click.option("--pdb", "post_mortem", is_flag=True, help="On an exception, enter pdb's post-mortem in the task's frame.")
@click.option("--allow-changed", is_flag=True,
              help="Run the step with FILE even though it is not the file RUN was started from.")
@click.option("--store", envvar="PIPEFLOW_STORE", metavar="URI",
              help="This process's store: RUN's must lie under it. [default: ./.pipeflow/payloads]")
@_backend_options
def rerun(target: str, run_id: str, step: str, attempt: int | None, post_mortem: bool, allow_changed: bool,
          store: str | None, backend: str, domain: str | None, region: str | None, endpoint_url: str | None) -> None:
    """Run STEP of RUN again here, with the exact input its attempt got, and print its result as JSON.

    STEP is a canvas path as `pipeflow tasks RUN --expand` shows it (`2`, `1.0.1` in a stage,
    `3.map.17`). The task comes from FILE (which must be the file RUN was started from), the
    input from RUN's history and store, decoded as a worker decodes it; nothing is recorded.
    If the task raises, its traceback is printed (exit 1); --pdb opens the debugger there.
    """
    from ..client import open_reader
    from ..running import prepare_rerun

    _check_backend(backend, domain, region, endpoint_url)
    check_store(store)
    with open_reader(backend, domain, endpoint_url, region) as reader:
        call = prepare_rerun(reader.swf, reader.domain, run_id, step, target, attempt=attempt, store=store,
                             allow_changed=allow_changed)
    click.echo(f"rerunning step {call.attempt.step} ({call.attempt.task}) attempt {call.attempt.attempt} "
               f"of run {call.run_id}", err=True)
    try:
        value = call()
    except (Exception, SystemExit) as exc:  # the task's own failure: shown as Python shows it
        tb = _from_task(exc.__traceback__)
        sys.stderr.write("".join(traceback.format_exception(type(exc), exc, tb)))
        if post_mortem:
            import pdb

            pdb.post_mortem(tb)
        _error(f"step {call.attempt.step} ({call.attempt.task}) raised {type(exc).__name__}: {exc}")
        sys.exit(EXIT_FAILED)
    call.check(value)  # a value that cannot cross SWF: ConverterError, exit 3
    from ..running import result_json

    click.echo(result_json(value))


def _from_task(tb: TracebackType | None) -> TracebackType | None:
    """The traceback from the task's first frame on: pipeflow's frames that lead to it (this command, the
    call of the task) are not the user's."""
    while tb is not None and tb.tb_next is not None and tb.tb_frame.f_globals.get("__name__", "").startswith("pipeflow."):
        tb = tb.tb_next
    return tb


@cli.command()
@click.argument("run_a", metavar="RUN_A")
@click.argument("run_b", metavar="RUN_B")
@click.option("--all", "every", is_flag=True, help="Every step, not only those that changed.")
@_backend_options
@_JSON
def diff(run_a: str, run_b: str, every: bool, backend: str, domain: str | None, region: str | None,
         endpoint_url: str | None, as_json: bool) -> None:
    """Compare RUN_A with RUN_B step by step: steps added or missing, status, retries, durations,
    inputs and results (by checksum). Stages are expanded; --json prints every step."""
    from ..client import diff_doc, open_reader, render_diff
    from ..running import result_json

    _check_backend(backend, domain, region, endpoint_url)
    with open_reader(backend, domain, endpoint_url, region) as reader:
        doc = diff_doc(reader, run_a, run_b)
    click.echo(result_json(doc) if as_json else render_diff(doc, every))


@cli.command()
@click.argument("run_id", metavar="RUN")
@_backend_options
@_JSON
def stats(run_id: str, backend: str, domain: str | None, region: str | None, endpoint_url: str | None,
          as_json: bool) -> None:
    """Measure RUN: per task, attempts, failures, retries, queue wait and run time (p50, p95, max),
    bytes in and out; then the critical path, the attempts that set its duration. Stages are expanded."""
    from ..client import open_reader, render_stats, stats_doc
    from ..running import result_json

    _check_backend(backend, domain, region, endpoint_url)
    with open_reader(backend, domain, endpoint_url, region) as reader:
        doc = stats_doc(reader, run_id)
    click.echo(result_json(doc) if as_json else render_stats(doc))
