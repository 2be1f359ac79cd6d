"""`pipeflow config`: the resolved settings and where each came from."""

from __future__ import annotations

import click

from ._group import cli


@cli.command("config", cls=click.Command)  # its flags are shown as flags, not filled from the settings
@click.option("--backend", default=None, help="As a command would be given it (shows as `flag`).")
@click.option("--domain", default=None, help="As a command would be given it.")
@click.option("--store", default=None, metavar="URI", help="As a command would be given it.")
@click.option("--endpoint-url", default=None, help="As a command would be given it.")
@click.option("--region", default=None, help="As a command would be given it.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout instead of a table.")
def config(backend: str | None, domain: str | None, store: str | None, endpoint_url: str | None,
           region: str | None, as_json: bool) -> None:
    """Show the settings commands use and where each came from.

    Flags win over the environment (PIPEFLOW_BACKEND, PIPEFLOW_DOMAIN, PIPEFLOW_STORE, PIPEFLOW_WORKERS,
    AWS_ENDPOINT_URL_SWF, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, AWS_REGION, AWS_DEFAULT_REGION,
    AWS_PROFILE), which wins over the nearest pipeflow.toml or pyproject.toml [tool.pipeflow]
    (searched from here up), which wins over the defaults.
    """
    import json

    from ..config import KEYS, load_settings

    settings = load_settings({"backend": backend, "domain": domain, "store": store, "endpoint_url": endpoint_url,
                              "region": region})
    if as_json:
        click.echo(json.dumps(settings.as_json(), indent=2))
        return
    width = max(len(key) for key in KEYS)
    values = {key: "-" if s.value is None else str(s.value) for key, s in settings.items.items()}
    value_width = min(max(len(v) for v in values.values()), 48)
    for key, setting in settings.items.items():
        source = f"default ({KEYS[key][1]})" if setting.is_default else setting.source
        click.echo(f"{key:<{width}}  {values[key]:<{value_width}}  {source}")
    click.echo(f"(file: {settings.file or 'none: no pipeflow.toml, nor pyproject.toml with [tool.pipeflow], here or above'})")
