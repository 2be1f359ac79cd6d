"""`pipeflow ui`: the web console for runs."""

from __future__ import annotations

import click

from ._group import cli


@cli.command()
@click.option("--port", type=click.IntRange(0, 65535), default=8233, show_default=True, help="Port to serve on.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to serve on; any but loopback needs a token (printed at start, or --token).")
@click.option("--token", envvar="PIPEFLOW_UI_TOKEN", metavar="TEXT", help="The token visitors must give.")
@click.option("--no-open", is_flag=True, help="Do not open a browser.")
@click.option("--backend", type=click.Choice(["embedded", "swf"]), default="embedded", show_default=True,
              help="Where the runs execute: ./.pipeflow/state.sqlite, or SWF (`pipeflow server` too).")
@click.option("--domain", help="SWF domain (--backend swf).")
@click.option("--region", help="AWS region (--backend swf) [default: AWS_REGION, the profile's].")
@click.option("--endpoint-url", help="SWF endpoint (--backend swf) [default: AWS_ENDPOINT_URL_SWF, Amazon's].")
@click.option("--store", envvar="PIPEFLOW_STORE", metavar="URI",
              help="The store to read offloaded values from. [default: ./.pipeflow/payloads]")
def ui(port: int, host: str, token: str | None, no_open: bool, backend: str, domain: str | None,
       region: str | None, endpoint_url: str | None, store: str | None) -> None:
    """Serve a web console for the runs of this folder (or of SWF) and open it in a browser."""
    if backend == "swf" and not domain:
        raise click.UsageError("--backend swf needs --domain D (the SWF domain of the runs)")
    if backend == "embedded" and (domain or region or endpoint_url):
        raise click.UsageError("--domain, --region and --endpoint-url go with --backend swf")
    try:
        from ..ui import Source, serve
    except ImportError as exc:
        raise click.ClickException(f"`pipeflow ui` needs the ui extra ({exc.name} is missing): "
                                   "pip install 'pipeflow[ui]'") from None
    serve(Source(backend, domain, endpoint_url, region, store), host=host, port=port, token=token,
          open_browser=not no_open, say=lambda text: click.echo(text, err=True))
