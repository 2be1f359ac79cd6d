"""The `pipeflow` group: the options every command shares, and the settings that fill their defaults."""

from __future__ import annotations

import logging
import os
import sys

import click
from click.core import ParameterSource

# setting key -> the parameter names it is the default of
_PARAMS = {
    "backend": ("backend",),
    "domain": ("domain",),
    "store": ("store",),
    "workers": ("workers", "processes"),
}


class SettingsCommand(click.Command):
    """A command whose --backend/--domain/--store/--workers default to the settings (env, then file).

    The AWS settings a file gives (endpoint_url, s3_endpoint_url, region, profile) become the
    variables botocore reads, for this command's duration; flags still win over all of them.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        names = {param.name for param in self.params}
        if any(name in names for params in _PARAMS.values() for name in params):
            from ..config import apply_to_environment, load_settings

            settings = load_settings()
            previous = apply_to_environment(settings)
            ctx.call_on_close(lambda: _restore(previous))
            defaults = {name: settings.value(key) for key, params in _PARAMS.items() for name in params
                        if name in names and not settings[key].is_default}
            ctx.default_map = {**defaults, **(ctx.default_map or {})}
        rest = super().parse_args(ctx, args)
        # --domain from the settings means SWF's: with the embedded backend it is not asked for.
        if ctx.params.get("backend") == "embedded" and ctx.get_parameter_source("domain") is ParameterSource.DEFAULT_MAP:
            ctx.params["domain"] = None
        return rest


def _restore(previous: dict[str, str | None]) -> None:
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


class SettingsGroup(click.Group):
    command_class = SettingsCommand


@click.group(cls=SettingsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True,
              help="More logging on stderr: -v pipeflow's decisions, -vv its debug lines, -vvv botocore's too.")
@click.version_option(package_name="pipeflow")
def cli(verbose: int) -> None:
    """Data pipelines on Amazon SWF, and on one machine with no setup.

    Defaults come from the environment (PIPEFLOW_BACKEND, PIPEFLOW_DOMAIN, PIPEFLOW_STORE, AWS_*)
    and [tool.pipeflow] in the nearest pyproject.toml (or a pipeflow.toml); `pipeflow config` shows them.
    """
    # pipeflow's own loggers get louder with each -v; the libraries below (botocore, urllib3) only at -vvv
    logging.basicConfig(level=logging.DEBUG if verbose >= 3 else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if verbose:
        logging.getLogger("pipeflow").setLevel(logging.WARNING - 10 * min(verbose, 2))
