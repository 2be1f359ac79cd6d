"""`pipeflow server`, `run`, `worker`, `decider`: the commands that start an engine or run pipelines."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from ._exit import EXIT_INTERRUPTED, EXIT_USAGE, _error
from ._group import cli


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
@click.option("--sync", type=click.Choice(["full", "normal"]), default="full", show_default=True,
              help="With --db, when a change is durable before the call is answered: full survives a crash "
                   "of the machine (an fsync per change), normal a killed server (faster on slow disks).")
def server(host: str, port: int, db: str | None, poll_timeout: float, no_auth: bool, recover: bool,
           sync: str) -> None:
    """Serve the embedded SWF-compatible engine over HTTP (SWF's JSON 1.0 protocol)."""
    from ..engine import is_loopback

    if recover and db is None:
        raise click.UsageError("--recover needs --db: it recovers that file")

    if no_auth and not is_loopback(host):
        _error(f"--no-auth is for loopback only: serving {host} lets other machines in; "
               "drop --no-auth (clients sign with your AWS credentials) or bind 127.0.0.1")
        sys.exit(EXIT_USAGE)
    # the server uses botocore only to read SWF's model: its debug lines would bury the request log (-vv)
    logging.getLogger("botocore").setLevel(max(logging.getLogger().level, logging.INFO))
    from ..engine import ENVIRONMENT, serve

    serve(host=host, port=port, db=db, poll_timeout=poll_timeout, auth=None if no_auth else ENVIRONMENT,
          recover=recover, sync=sync)


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
    from ..wire import load_json

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


_STORE_SCHEMES = ("s3", "file", "memory")


def _store_uri(store: str | None, s3_bucket: str | None) -> str | None:
    if store and s3_bucket:
        raise click.UsageError("give --store or --s3-bucket, not both")
    if s3_bucket:
        return f"s3://{s3_bucket.removeprefix('s3://').strip('/')}"
    return check_store(store) or None


def check_store(store: str | None) -> str | None:
    """`store` when its scheme is one a store can have; a usage error (exit 2) naming the forms otherwise."""
    scheme = store.split("://", 1)[0].lower() if store and "://" in store else ""
    if scheme and scheme not in _STORE_SCHEMES:
        raise click.BadParameter(f"{store!r} is not a store: give s3://bucket/prefix, a directory or file:///dir",
                                 param_hint="--store")
    return store


@contextmanager
def failure_json(as_json: bool) -> Iterator[None]:
    """With --json, a run that closed without a result prints `{"status", "error", "run"}` on stdout, then fails."""
    from .._errors import RunFailed, TaskFailed

    try:
        yield
    except (TaskFailed, RunFailed) as exc:
        if as_json:
            from ..running import result_json
            from ..wire import failure_doc

            click.echo(result_json(failure_doc(exc)))
        raise  # `main` reports it on stderr and picks the exit code


def _local_payloads() -> str:
    """./.pipeflow/payloads, created, as an absolute path."""
    from ..running import PAYLOADS

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
@click.option("--no-wait", is_flag=True,
              help="--backend swf: start the run, print its run id and exit; nothing is decided or worked here "
                   "(`pipeflow decider` and `pipeflow worker` elsewhere do).")
@click.option("--json", "as_json", is_flag=True, help="Print run id, status and result (or error) as one JSON object.")
@click.option("--no-progress", is_flag=True, help="No progress line on stderr.")
@click.option("--tag", "tags", metavar="KEY=VALUE", multiple=True,
              help="Tag the run (repeatable, at most 5; SWF's tagList): `pipeflow runs --tag KEY=VALUE` finds it.")
@click.option("--priority", type=click.IntRange(-2**31, 2**31 - 1), default=None, metavar="N",
              help="The SWF task priority of the run's steps that set none (higher runs first) [default: 0].")
@click.option("--lambda-role", envvar="PIPEFLOW_LAMBDA_ROLE", metavar="ARN",
              help="--backend swf: the IAM role Amazon SWF invokes the run's Lambda steps with (needed there).")
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
    no_wait: bool,
    as_json: bool,
    no_progress: bool,
    tags: tuple[str, ...],
    priority: int | None,
    lambda_role: str | None,
) -> None:
    """Run the pipeline FILE[:ATTR] (ATTR defaults to `pipeline`) and print its result as JSON."""
    from .._loader import load_pipeline
    from ..running import run_file

    if backend == "swf" and not domain:
        raise click.UsageError("--backend swf needs --domain D (the SWF domain to run in; registered if new)")
    if backend == "embedded" and (domain or region or endpoint_url or no_local_workers or no_wait):
        raise click.UsageError("--domain, --region, --endpoint-url, --no-local-workers and --no-wait go with "
                               "--backend swf")
    value = _parse_input(input_json, input_file)
    tag_list = _checked_tags(tags, "--tag")
    loaded = load_pipeline(target)
    store_uri = _store_uri(store, s3_bucket)
    if no_wait:
        assert domain is not None
        _submit(target, value, domain=domain, region=region, endpoint_url=endpoint_url, store=store_uri,
                as_json=as_json, tags=tag_list, priority=priority, lambda_role=lambda_role)
        return
    if backend == "swf":
        from ..running import run_swf

        assert domain is not None
        # Local workers can share ./.pipeflow/payloads; workers elsewhere could not read it.
        with failure_json(as_json):
            outcome = run_swf(
                loaded, value, domain=domain, endpoint_url=endpoint_url, region=region,
                store=store_uri if store_uri or no_local_workers else _local_payloads(),
                workers=workers, local_workers=not no_local_workers, progress=not no_progress,
                tags=tag_list, priority=priority, lambda_role=lambda_role,
            )
    else:
        with resumable(target), failure_json(as_json):
            outcome = run_file(loaded, value, store=store_uri, workers=workers, progress=not no_progress,
                               tags=tag_list, priority=priority)
    echo_outcome(outcome, as_json)


def _submit(target: str, value: Any, *, domain: str, region: str | None, endpoint_url: str | None,
            store: str | None, as_json: bool, tags: list[str] | None = None, priority: int | None = None,
            lambda_role: str | None = None) -> None:
    """`run --no-wait`: register the types, start the run, print its run id (or `--json` its document)."""
    from ..client import Client

    client = Client.swf(domain, region=region, endpoint_url=endpoint_url, store=store)
    try:
        started = client.submit(target, value, tags=tags, priority=priority, lambda_role=lambda_role)
    finally:
        client.close()
    echo_started(started, domain, as_json)


def echo_started(started: Any, domain: str, as_json: bool) -> None:
    """A run started with --no-wait: its run id on stdout (`--json`: its document), how to follow it on stderr."""
    if as_json:
        from ..running import result_json

        click.echo(result_json({"run_id": started.run_id, "workflow_id": started.workflow_id, "status": "RUNNING"}))
    else:
        click.echo(started.run_id)
    click.echo(f"started run {started.run_id} (workflow {started.workflow_id}); follow it with  pipeflow status "
               f"{started.run_id} --backend swf --domain {domain}", err=True)


def _checked_tags(tags: tuple[str, ...] | list[str], hint: str, one: bool = False) -> list[str]:
    """`--tag KEY=VALUE` flags as a tagList; a usage error (exit 2) naming the tag and the fix otherwise."""
    from .._errors import PipelineError
    from ..running import tag_filter, tag_list

    try:
        return [str(tag_filter(tags[0]))] if one else tag_list(list(tags))
    except PipelineError as exc:
        raise click.BadParameter(str(exc), param_hint=hint) from None


@contextmanager
def resumable(target: str | None) -> Iterator[None]:
    """Ctrl-C of an embedded run (`Interrupted`): the run stays open; say how to continue it, exit 130."""
    from ..running import Interrupted

    try:
        yield
    except Interrupted as exc:
        click.echo(f"interrupted: continue with  pipeflow resume {target} {exc.run_id}", err=True)
        sys.exit(EXIT_INTERRUPTED)


def echo_outcome(outcome: Any, as_json: bool) -> None:
    """A completed run's result on stdout: the value as JSON, or with `--json` the run's document."""
    from ..running import result_json

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
    from ..running import serve_worker

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
    from ..running import serve_decider

    serve_decider(list(targets), domain=domain, task_list=task_list, endpoint_url=endpoint_url, region=region,
                  pollers=pollers, store=store)
