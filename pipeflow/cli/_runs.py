"""`pipeflow gc`, `cancel`, `signal`, `runs`, `status`, `tasks`, `history`, `result`, `resume`: the commands about runs."""

from __future__ import annotations

from typing import Any

import click

from ._group import cli
from ._run import _checked_tags, _parse_input, _store_uri, check_store, echo_outcome, echo_started, failure_json, resumable


@cli.command()
@click.option("--older-than", "older_than", required=True, metavar="AGE",
              help="Remove the payloads of runs closed longer ago than this: 90s, 30m, 12h, 7d, 2w.")
@click.option("--store", envvar="PIPEFLOW_STORE", metavar="URI",
              help="The runs' store: s3://bucket/prefix or a directory. [default: ./.pipeflow/payloads]")
@click.option("--s3-bucket", metavar="BUCKET[/PREFIX]", help="Shorthand for --store s3://BUCKET/PREFIX.")
@click.option("--backend", type=click.Choice(["embedded", "swf"]), default="embedded", show_default=True,
              help="Where the runs executed: ./.pipeflow/state.sqlite, or SWF.")
@click.option("--domain", help="SWF domain (--backend swf).")
@click.option("--region", help="AWS region (--backend swf) [default: AWS_REGION, the profile's].")
@click.option("--endpoint-url", help="SWF endpoint (--backend swf) [default: AWS_ENDPOINT_URL_SWF, Amazon's].")
@click.option("--dry-run", is_flag=True, help="List the run folders that would go, on stdout; remove nothing.")
def gc(
    older_than: str,
    store: str | None,
    s3_bucket: str | None,
    backend: str,
    domain: str | None,
    region: str | None,
    endpoint_url: str | None,
    dry_run: bool,
) -> None:
    """Remove the offloaded payloads of runs that closed more than --older-than ago.

    Each run's payloads sit in `<store>/<workflowId>/` beside the manifest its starter wrote.
    Folders of open or recently closed runs, of other domains, or without a manifest are kept.
    """
    from ..running import gc as collect_garbage
    from ..running import parse_age

    try:
        seconds = parse_age(older_than)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None
    store_uri = _store_uri(store, s3_bucket)
    if store_uri is not None and "#" in store_uri:
        raise click.UsageError(f"--store {store_uri} names a scope (#...): give the store's root, without '#'")
    if backend == "swf":
        if not domain:
            raise click.UsageError("--backend swf needs --domain D (the SWF domain the runs ran in)")
        if store_uri is None:
            raise click.UsageError("--backend swf needs --store URI or --s3-bucket BUCKET[/PREFIX] (where the runs' payloads are)")
    elif domain or region or endpoint_url:
        raise click.UsageError("--domain, --region and --endpoint-url go with --backend swf")
    report = collect_garbage(
        seconds, store=store_uri, backend=backend, domain=domain, region=region, endpoint_url=endpoint_url,
        dry_run=dry_run, note=lambda text: click.echo(text, err=True),
        on_folder=click.echo if dry_run else None,
    )
    click.echo(report.summary(older_than.strip(), dry_run=dry_run), err=True)


def _backend_options(command: Any) -> Any:
    """--backend/--domain/--region/--endpoint-url of the commands that act on one run."""
    for option in reversed([
        click.option("--backend", type=click.Choice(["embedded", "swf"]), default="embedded", show_default=True,
                     help="Where the run executes: ./.pipeflow/state.sqlite, or SWF."),
        click.option("--domain", help="SWF domain (--backend swf)."),
        click.option("--region", help="AWS region (--backend swf) [default: AWS_REGION, the profile's]."),
        click.option("--endpoint-url", help="SWF endpoint (--backend swf) [default: AWS_ENDPOINT_URL_SWF, Amazon's]."),
    ]):
        command = option(command)
    return command


def _check_backend(backend: str, domain: str | None, region: str | None, endpoint_url: str | None) -> None:
    if backend == "swf" and not domain:
        raise click.UsageError("--backend swf needs --domain D (the SWF domain the run is in)")
    if backend == "embedded" and (domain or region or endpoint_url):
        raise click.UsageError("--domain, --region and --endpoint-url go with --backend swf")


@cli.command()
@click.argument("run_id", metavar="RUN")
@_backend_options
@click.option("--reason", metavar="TEXT", help="Why: kept in the run's close details and shown by `pipeflow run`.")
def cancel(run_id: str, backend: str, domain: str | None, region: str | None, endpoint_url: str | None,
           reason: str | None) -> None:
    """Cancel the open run RUN (a run id or a workflow id).

    Its open steps are canceled (their processes killed), its retry timers and child runs too,
    and it closes as CANCELED; `pipeflow run` waiting for it exits 5.
    """
    from ..running import command

    _check_backend(backend, domain, region, endpoint_url)
    execution = command("cancel", run_id, backend=backend, domain=domain, endpoint_url=endpoint_url, region=region,
                        reason=reason)
    click.echo(f"cancel requested for run {execution['runId']} (workflow {execution['workflowId']})", err=True)


@cli.command()
@click.argument("run_id", metavar="RUN")
@click.argument("name")
@click.option("--input", "input_json", metavar="JSON", help="The signal's value, as JSON [default: null].")
@_backend_options
def signal(run_id: str, name: str, input_json: str | None, backend: str, domain: str | None, region: str | None,
           endpoint_url: str | None) -> None:
    """Send the signal NAME to the open run RUN: its `pf.wait_signal(NAME)` step gets the value."""
    from ..running import command

    _check_backend(backend, domain, region, endpoint_url)
    value = _parse_input(input_json, None)
    execution = command("signal", run_id, backend=backend, domain=domain, endpoint_url=endpoint_url, region=region,
                        name=name, value=value)
    click.echo(f"signal {name} sent to run {execution['runId']} (workflow {execution['workflowId']})", err=True)


def _show_run(command: str, run: str | None, backend: str, domain: str | None, region: str | None,
             endpoint_url: str | None, as_json: bool, **options: Any) -> None:
    from ..client import show

    _check_backend(backend, domain, region, endpoint_url)
    click.echo(show(command, run, backend=backend, domain=domain, endpoint_url=endpoint_url, region=region,
                    as_json=as_json, **options))


_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout instead of a table.")
_STATUSES = ("RUNNING", "OPEN", "CLOSED", "COMPLETED", "FAILED", "CANCELED", "TERMINATED", "CONTINUED_AS_NEW",
             "TIMED_OUT")


@cli.command()
@click.option("--status", type=click.Choice(_STATUSES, case_sensitive=False), default=None,
              help="Only runs in this state (RUNNING: open; CLOSED: any close).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many runs.")
@click.option("--tag", metavar="KEY=VALUE", default=None,
              help="Only runs with this tag (`pipeflow run --tag`); SWF filters by one tag at a time.")
@_backend_options
@_JSON
def runs(status: str | None, limit: int, tag: str | None, backend: str, domain: str | None, region: str | None,
         endpoint_url: str | None, as_json: bool) -> None:
    """List the latest runs, newest first (stages and shards show in their parent's `tasks`)."""
    if tag is not None:
        _checked_tags([tag], "--tag", one=True)
    _show_run("runs", None, backend, domain, region, endpoint_url, as_json, status=status, limit=limit, tag=tag)


@cli.command()
@click.argument("run_id", metavar="RUN")
@_backend_options
@_JSON
def status(run_id: str, backend: str, domain: str | None, region: str | None, endpoint_url: str | None,
           as_json: bool) -> None:
    """Show the status of RUN (a run id, or a workflow id: its latest run): progress, times, failure."""
    _show_run("status", run_id, backend, domain, region, endpoint_url, as_json)


@cli.command()
@click.argument("run_id", metavar="RUN")
@_backend_options
@_JSON
@click.option("--expand", is_flag=True,
              help="Also the attempts inside stages and shards (read from their child runs), indented under theirs.")
def tasks(run_id: str, backend: str, domain: str | None, region: str | None, endpoint_url: str | None,
          as_json: bool, expand: bool) -> None:
    """List the task attempts of RUN: step, task, attempt, status, times, worker, sizes, error."""
    _show_run("tasks", run_id, backend, domain, region, endpoint_url, as_json, expand=expand)


@cli.command()
@click.argument("run_id", metavar="RUN")
@_backend_options
@_JSON
def history(run_id: str, backend: str, domain: str | None, region: str | None, endpoint_url: str | None,
            as_json: bool) -> None:
    """List the events of RUN's history (--json adds each event's attributes)."""
    _show_run("history", run_id, backend, domain, region, endpoint_url, as_json)


@cli.command()
@click.argument("run_id", metavar="RUN")
@_backend_options
@click.option("--json", "as_json", is_flag=True, help="Print run id, status and result (or error) as one JSON object.")
def result(run_id: str, backend: str, domain: str | None, region: str | None, endpoint_url: str | None,
           as_json: bool) -> None:
    """Print the result of the closed run RUN as JSON, as `pipeflow run` does (exit 1 if it failed)."""
    with failure_json(as_json):
        _show_run("result", run_id, backend, domain, region, endpoint_url, as_json)


@cli.command()
@click.argument("args", metavar="FILE[:ATTR] RUN", nargs=-1, required=True)
@click.option("--from", "from_step", metavar="STEP",
              help="Run again from this top-level step (its path, e.g. 2, or its task's name) onward.")
@click.option("--allow-changed", is_flag=True,
              help="Resume with FILE even though it is not the file RUN was started from (its checkpoints then "
                   "meet the new code).")
@click.option("--store", envvar="PIPEFLOW_STORE", metavar="URI",
              help="This process's store: RUN's must lie under it. [default: ./.pipeflow/payloads]")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes [default: CPU count].")
@_backend_options
@click.option("--no-local-workers", is_flag=True,
              help="--backend swf: run no workers here (workers elsewhere do the steps; the decider still runs here).")
@click.option("--no-wait", is_flag=True,
              help="--backend swf: start the new run, print its run id and exit; `pipeflow decider`/`worker` "
                   "elsewhere run it.")
@click.option("--json", "as_json", is_flag=True, help="Print run id, status and result (or error) as one JSON object.")
@click.option("--no-progress", is_flag=True, help="No progress line on stderr.")
def resume(
    args: tuple[str, ...], from_step: str | None, allow_changed: bool, store: str | None, workers: int | None,
    backend: str, domain: str | None, region: str | None, endpoint_url: str | None, no_local_workers: bool,
    no_wait: bool, as_json: bool, no_progress: bool,
) -> None:
    """Run RUN (a run id, or a workflow id: its latest run) again with FILE, reusing the steps it checkpointed.

    A new run of the same pipeline and input starts; every top-level step (and stage) that RUN
    completed takes its result from RUN instead of running again, and the rest runs. Its result
    is printed as `pipeflow run` prints it. Only FILE runs: the file RUN recorded is never
    loaded on its say-so (RUN alone shows it as a hint), and FILE must be that file as it was
    when RUN started, unless --allow-changed.
    """
    from ..running import resume_file, resume_swf

    if len(args) > 2:
        raise click.UsageError("give the pipeline file and the run to resume: FILE[:ATTR] RUN")
    target, run_id = (None, args[0]) if len(args) == 1 else args
    _check_backend(backend, domain, region, endpoint_url)
    if no_local_workers and backend != "swf":
        raise click.UsageError("--no-local-workers goes with --backend swf")
    check_store(store)
    if no_wait and backend != "swf":
        raise click.UsageError("--no-wait goes with --backend swf")
    if no_wait:
        assert domain is not None
        _resume_no_wait(target, run_id, from_step, domain=domain, region=region, endpoint_url=endpoint_url,
                        store=store, allow_changed=allow_changed, as_json=as_json)
        return
    if backend == "swf":
        assert domain is not None
        with failure_json(as_json):
            outcome = resume_swf(target, run_id, from_step, domain=domain, endpoint_url=endpoint_url, region=region,
                                 workers=workers, local_workers=not no_local_workers, progress=not no_progress,
                                 store=store, allow_changed=allow_changed)
    else:
        with resumable(target), failure_json(as_json):
            outcome = resume_file(target, run_id, from_step, workers=workers, progress=not no_progress,
                                  store=store, allow_changed=allow_changed)
    echo_outcome(outcome, as_json)


def _resume_no_wait(target: str | None, run_id: str, from_step: str | None, *, domain: str, region: str | None,
                    endpoint_url: str | None, store: str | None, allow_changed: bool, as_json: bool) -> None:
    """`resume --no-wait`: start the resuming run on the pipeline's task list and print its run id."""
    from ..client import Client

    client = Client.swf(domain, region=region, endpoint_url=endpoint_url, store=store)
    try:
        started = client.resume(run_id, from_step, target, allow_changed=allow_changed)
    finally:
        client.close()
    echo_started(started, domain, as_json)
