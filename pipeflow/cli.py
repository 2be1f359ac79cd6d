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

import logging
import sys
from typing import Any

import click

from ._errors import EngineError, PipelineError, PipeflowError, RunCanceled, RunFailed, TaskFailed

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_ENGINE = 4
EXIT_CANCELED = 5
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
@click.option("--poll-timeout", type=click.FloatRange(min=0.1, max=60.0), default=60.0, hidden=True,
              help="Seconds a long poll waits for a task (SWF: 60); shorter for tests.")
@click.option("--no-auth", is_flag=True,
              help="Accept unsigned requests (loopback --host only). By default requests must be SigV4-signed "
                   "with this environment's AWS credentials, or with a generated key pair when there are none.")
@click.option("--recover", is_flag=True,
              help="The --db file failed its checks at open: set it aside (kept, never deleted), start from "
                   "the part that verifies and report what was dropped.")
def server(host: str, port: int, db: str | None, poll_timeout: float, no_auth: bool, recover: bool) -> None:
    """Serve the embedded SWF-compatible engine over HTTP (SWF's JSON 1.0 protocol)."""
    from .engine._auth import is_loopback

    if recover and db is None:
        raise click.UsageError("--recover needs --db: it recovers that file")

    if no_auth and not is_loopback(host):
        _error(f"--no-auth is for loopback only: serving {host} lets other machines in; "
               "drop --no-auth (clients sign with your AWS credentials) or bind 127.0.0.1")
        sys.exit(EXIT_USAGE)
    # the server uses botocore only to read SWF's model: its debug lines would bury the request log (-vv)
    logging.getLogger("botocore").setLevel(max(logging.getLogger().level, logging.INFO))
    from .engine import serve
    from .engine._http import ENVIRONMENT

    serve(host=host, port=port, db=db, poll_timeout=poll_timeout, auth=None if no_auth else ENVIRONMENT,
          recover=recover)


def _parse_input(input_json: str | None, input_file: str | None) -> Any:
    """The pipeline input from --input or --input-file, as a JSON value (None when absent)."""
    import json

    if input_json is not None and input_file is not None:
        raise click.UsageError("give the input with --input or --input-file, not both")
    if input_file is not None:
        source = f"the input file {input_file}"
        with click.open_file(input_file, encoding="utf-8") as fh:
            text = fh.read()
    elif input_json is not None:
        source, text = "--input", input_json
    else:
        return None
    from ._wire import load_json

    try:
        return load_json(text, source)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"{source} is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            "quote strings, e.g. --input '\"some text\"' or --input '[1, 2, 3]'",
            param_hint="--input" if input_file is None else "--input-file",
        ) from None
    except ValueError as exc:  # nested past the limit
        raise click.BadParameter(str(exc), param_hint="--input" if input_file is None else "--input-file") from None


def _store_uri(store: str | None, s3_bucket: str | None) -> str | None:
    if store and s3_bucket:
        raise click.UsageError("give --store or --s3-bucket, not both")
    if s3_bucket:
        return f"s3://{s3_bucket.removeprefix('s3://').strip('/')}"
    return store or None


def _local_payloads() -> str:
    """./.pipeflow/payloads, created, as an absolute path."""
    from ._run import PAYLOADS

    PAYLOADS.mkdir(mode=0o700, parents=True, exist_ok=True)
    return str(PAYLOADS.resolve())


@cli.command()
@click.argument("target", metavar="FILE[:ATTR]")
@click.option("--input", "input_json", metavar="JSON", help="The pipeline's input, as JSON.")
@click.option("--input-file", type=click.Path(exists=True, dir_okay=False, allow_dash=True),
              help="Read the input (JSON) from a file, '-' for stdin.")
@click.option("--store", envvar="PIPEFLOW_STORE", metavar="URI",
              help="Where large values go: s3://bucket/prefix or a directory. [default: ./.pipeflow/payloads]")
@click.option("--s3-bucket", metavar="BUCKET[/PREFIX]", help="Shorthand for --store s3://BUCKET/PREFIX.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes [default: CPU count].")
@click.option("--backend", type=click.Choice(["embedded", "swf"]), default="embedded", show_default=True,
              help="Where the run executes.")
@click.option("--domain", help="SWF domain (--backend swf; registered if new).")
@click.option("--region", help="AWS region (--backend swf) [default: AWS_REGION, the profile's].")
@click.option("--endpoint-url", help="SWF endpoint (--backend swf) [default: AWS_ENDPOINT_URL_SWF, Amazon's].")
@click.option("--no-local-workers", is_flag=True,
              help="--backend swf: run no workers here (workers elsewhere do the steps; the decider still runs here).")
@click.option("--json", "as_json", is_flag=True, help="Print run id, status and result as one JSON object.")
@click.option("--no-progress", is_flag=True, help="No progress line on stderr.")
def run(
    target: str,
    input_json: str | None,
    input_file: str | None,
    store: str | None,
    s3_bucket: str | None,
    workers: int | None,
    backend: str,
    domain: str | None,
    region: str | None,
    endpoint_url: str | None,
    no_local_workers: bool,
    as_json: bool,
    no_progress: bool,
) -> None:
    """Run the pipeline FILE[:ATTR] (ATTR defaults to `pipeline`) and print its result as JSON."""
    from ._loader import load_pipeline
    from ._run import result_json, run_file

    if backend == "swf" and not domain:
        raise click.UsageError("--backend swf needs --domain D (the SWF domain to run in; registered if new)")
    if backend == "embedded" and (domain or region or endpoint_url or no_local_workers):
        raise click.UsageError("--domain, --region, --endpoint-url and --no-local-workers go with --backend swf")
    value = _parse_input(input_json, input_file)
    loaded = load_pipeline(target)
    store_uri = _store_uri(store, s3_bucket)
    if backend == "swf":
        from ._run_swf import run_swf

        assert domain is not None
        # Local workers can share ./.pipeflow/payloads; workers elsewhere could not read it.
        outcome = run_swf(
            loaded, value, domain=domain, endpoint_url=endpoint_url, region=region,
            store=store_uri if store_uri or no_local_workers else _local_payloads(),
            workers=workers, local_workers=not no_local_workers, progress=not no_progress,
        )
    else:
        from ._run import Interrupted

        try:
            outcome = run_file(loaded, value, store=store_uri, workers=workers, progress=not no_progress)
        except Interrupted as exc:  # the run stays open here: say how to continue it
            click.echo(f"interrupted: continue with  pipeflow resume {target} {exc.run_id}", err=True)
            sys.exit(EXIT_INTERRUPTED)
    if as_json:
        click.echo(result_json({"run_id": outcome.run_id, "workflow_id": outcome.workflow_id,
                                "status": "COMPLETED", "result": outcome.result}))
    else:
        click.echo(result_json(outcome.result))


@cli.command()
@click.argument("targets", metavar="FILE[:ATTR]...", nargs=-1, required=True)
@click.option("--domain", required=True, help="SWF domain.")
@click.option("--task-list", default=None, help="Activity task list [default: the pipelines' task list].")
@click.option("--processes", type=click.IntRange(min=1), default=None, help="Worker processes [default: CPU count].")
@click.option("--endpoint-url", envvar="AWS_ENDPOINT_URL_SWF", help="SWF endpoint, e.g. a `pipeflow server`.")
@click.option("--region", envvar=["AWS_REGION", "AWS_DEFAULT_REGION"], help="AWS region.")
@click.option("--store", envvar="PIPEFLOW_STORE", metavar="URI",
              help="The worker's store: runs whose store lies elsewhere are refused; large results of runs "
                   "started without one go here. [default: ./.pipeflow/payloads]")
@click.option("--grace", type=click.FloatRange(min=0), default=60.0, show_default=True, metavar="SECONDS",
              help="On SIGTERM, how long running tasks may finish before they are killed and handed back.")
@click.option("--pollers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Polls kept open at once; more cut the wait for a task on servers that look for one only "
                   "when a poll starts (moto).")
def worker(
    targets: tuple[str, ...],
    domain: str,
    task_list: str | None,
    processes: int | None,
    endpoint_url: str | None,
    region: str | None,
    store: str | None,
    grace: float,
    pollers: int,
) -> None:
    """Run the tasks of the given pipeline files until interrupted.

    On SIGTERM or Ctrl-C: tasks not started are handed back at once (scheduled again, no retry
    spent), running ones finish (up to --grace seconds), then it exits 0; a second signal exits now.
    """
    from ._run import serve_worker

    serve_worker(list(targets), domain=domain, task_list=task_list, processes=processes,
                 endpoint_url=endpoint_url, region=region, store=store, grace=grace, pollers=pollers)


@cli.command()
@click.argument("targets", metavar="FILE[:ATTR]...", nargs=-1, required=True)
@click.option("--domain", required=True, help="SWF domain.")
@click.option("--task-list", default=None, help="Decision task list [default: the pipelines' task list].")
@click.option("--endpoint-url", envvar="AWS_ENDPOINT_URL_SWF", help="SWF endpoint, e.g. a `pipeflow server`.")
@click.option("--region", envvar=["AWS_REGION", "AWS_DEFAULT_REGION"], help="AWS region.")
@click.option("--pollers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Polls kept open at once; more cut the wait for a task on servers that look for one only "
                   "when a poll starts (moto).")
@click.option("--store", envvar="PIPEFLOW_STORE", metavar="URI",
              help="The decider's store: a run whose store lies elsewhere fails, saying so. "
                   "[default: ./.pipeflow/payloads]")
def decider(
    targets: tuple[str, ...], domain: str, task_list: str | None, endpoint_url: str | None, region: str | None,
    pollers: int, store: str | None,
) -> None:
    """Decide the executions of the given pipelines until interrupted.

    On SIGTERM or Ctrl-C it answers the decision task in hand and what its poll in flight brings,
    then exits 0; a second signal exits now.
    """
    from ._run import serve_decider

    serve_decider(list(targets), domain=domain, task_list=task_list, endpoint_url=endpoint_url, region=region,
                  pollers=pollers, store=store)


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
    from ._gc import gc as collect_garbage
    from ._gc import parse_age

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
    from ._control import command

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
    from ._control import command

    _check_backend(backend, domain, region, endpoint_url)
    value = _parse_input(input_json, None)
    execution = command("signal", run_id, backend=backend, domain=domain, endpoint_url=endpoint_url, region=region,
                        name=name, value=value)
    click.echo(f"signal {name} sent to run {execution['runId']} (workflow {execution['workflowId']})", err=True)


def _show_run(command: str, run: str | None, backend: str, domain: str | None, region: str | None,
             endpoint_url: str | None, as_json: bool, **options: Any) -> None:
    from ._inspect_cli import show

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
@_backend_options
@_JSON
def runs(status: str | None, limit: int, backend: str, domain: str | None, region: str | None,
         endpoint_url: str | None, as_json: bool) -> None:
    """List the latest runs, newest first (stages and shards show in their parent's `tasks`)."""
    _show_run("runs", None, backend, domain, region, endpoint_url, as_json, status=status, limit=limit)


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
def tasks(run_id: str, backend: str, domain: str | None, region: str | None, endpoint_url: str | None,
          as_json: bool) -> None:
    """List the task attempts of RUN: step, task, attempt, status, times, worker, sizes, error."""
    _show_run("tasks", run_id, backend, domain, region, endpoint_url, as_json)


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
@click.option("--json", "as_json", is_flag=True, help="Print run id, status and result as one JSON object.")
def result(run_id: str, backend: str, domain: str | None, region: str | None, endpoint_url: str | None,
           as_json: bool) -> None:
    """Print the result of the closed run RUN as JSON, as `pipeflow run` does (exit 1 if it failed)."""
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
@click.option("--json", "as_json", is_flag=True, help="Print run id, status and result as one JSON object.")
@click.option("--no-progress", is_flag=True, help="No progress line on stderr.")
def resume(
    args: tuple[str, ...], from_step: str | None, allow_changed: bool, store: str | None, workers: int | None,
    backend: str, domain: str | None, region: str | None, endpoint_url: str | None, no_local_workers: bool,
    as_json: bool, no_progress: bool,
) -> None:
    """Run RUN (a run id, or a workflow id: its latest run) again with FILE, reusing the steps it checkpointed.

    A new run of the same pipeline and input starts; every top-level step (and stage) that RUN
    completed takes its result from RUN instead of running again, and the rest runs. Its result
    is printed as `pipeflow run` prints it. Only FILE runs: the file RUN recorded is never
    loaded on its say-so (RUN alone shows it as a hint), and FILE must be that file as it was
    when RUN started, unless --allow-changed.
    """
    from ._resume import resume_file, resume_swf
    from ._run import result_json

    if len(args) > 2:
        raise click.UsageError("give the pipeline file and the run to resume: FILE[:ATTR] RUN")
    target, run_id = (None, args[0]) if len(args) == 1 else args
    _check_backend(backend, domain, region, endpoint_url)
    if no_local_workers and backend != "swf":
        raise click.UsageError("--no-local-workers goes with --backend swf")
    if backend == "swf":
        assert domain is not None
        outcome = resume_swf(target, run_id, from_step, domain=domain, endpoint_url=endpoint_url, region=region,
                             workers=workers, local_workers=not no_local_workers, progress=not no_progress,
                             store=store, allow_changed=allow_changed)
    else:
        from ._run import Interrupted

        try:
            outcome = resume_file(target, run_id, from_step, workers=workers, progress=not no_progress, store=store,
                                  allow_changed=allow_changed)
        except Interrupted as exc:  # the run stays open here: say how to continue it
            click.echo(f"interrupted: continue with  pipeflow resume {target} {exc.run_id}", err=True)
            sys.exit(EXIT_INTERRUPTED)
    if as_json:
        click.echo(result_json({"run_id": outcome.run_id, "workflow_id": outcome.workflow_id,
                                "status": "COMPLETED", "result": outcome.result}))
    else:
        click.echo(result_json(outcome.result))


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
