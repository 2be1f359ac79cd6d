"""`pipeflow logs`: what each attempt of a run's steps printed and logged."""

from __future__ import annotations

import sys

import click

from ._group import cli
from ._runs import _backend_options, _check_backend


@cli.command()
@click.argument("run_id", metavar="RUN")
@click.argument("step", required=False)
@click.option("--attempt", type=click.IntRange(min=1), default=None, help="Only this attempt of the step(s).")
@click.option("--follow", "-f", is_flag=True, help="Keep printing the logs of attempts as they end, until RUN closes.")
@click.option("--store", envvar="PIPEFLOW_STORE", metavar="URI",
              help="This process's store: RUN's must lie under it. [default: ./.pipeflow/payloads]")
@_backend_options
def logs(run_id: str, step: str | None, attempt: int | None, follow: bool, store: str | None, backend: str,
         domain: str | None, region: str | None, endpoint_url: str | None) -> None:
    """Print what RUN's task attempts printed and logged (RUN: a run id, or a workflow id: its latest run).

    Each attempt's stdout, stderr, `logging` records (INFO and above) and its programs' output,
    headed `== STEP (TASK) attempt N ==`; STEP (a step path or a task name) keeps one step. A log
    keeps its last MiB. Logs live in the run's store: a run without one keeps only the tail of
    each failed attempt's log.
    """
    from ..client import open_reader, print_logs

    _check_backend(backend, domain, region, endpoint_url)

    def write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    with open_reader(backend, domain, endpoint_url, region) as reader:
        print_logs(reader, run_id, step, attempt, store=store, follow=follow, write=write)
