"""deploy/: the systemd units and the Dockerfile run commands the CLI accepts, and stop as pipeflow drains.

Nothing is built or installed here: each command line is parsed (systemd's ExecStart with its
line continuations and `${VAR}` settings, the Dockerfile's exec-form ENTRYPOINT + CMD) and
handed to click's parser for that command, after `pipeflow COMMAND --help` shows it exists.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pipeflow.cli import cli

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
POLL_WAIT = 65.0  # seconds a stopping worker or decider waits for its poll in flight (running._serve)


def unit(path: Path) -> dict[str, str]:
    """A systemd unit's settings (continuation lines joined, comments dropped; the last of a key wins)."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    settings: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            settings[key.strip()] = value.strip()
    return settings


def check_command(argv: list[str], env: dict[str, str]) -> click.Context:
    """`argv` (after the program) parses as a pipeflow command with exactly these flags; its context."""
    name, *args = argv
    command = cli.commands[name]
    helped = CliRunner().invoke(cli, [name, "--help"])
    assert helped.exit_code == 0, helped.output
    for flag in (a.split("=", 1)[0] for a in args if a.startswith("--")):
        assert flag in helped.output, f"pipeflow {name} --help does not show {flag}"
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        return command.make_context(name, list(args), resilient_parsing=False)


@pytest.mark.parametrize("role", ["worker", "decider"])
def test_the_systemd_units_run_commands_the_cli_accepts(role: str) -> None:
    settings = unit(DEPLOY / "systemd" / f"pipeflow-{role}.service")
    argv = shlex.split(settings["ExecStart"].lstrip("-@+!:"))
    assert Path(argv[0]).name == "pipeflow" and argv[1] == role
    # systemd substitutes ${VAR} from EnvironmentFile before pipeflow sees the line
    argv = [re.sub(r"\$\{(\w+)\}", lambda m: f"<{m.group(1)}>", a) for a in argv[1:]]
    ctx = check_command(argv, {})
    assert ctx.params["domain"] == "<PIPEFLOW_DOMAIN>" and ctx.params["store"] == "<PIPEFLOW_STORE>"
    assert settings["KillSignal"] == "SIGTERM" and settings["KillMode"] == "mixed"
    assert settings["Restart"] == "on-failure"
    drain = max(ctx.params.get("grace", 0.0), POLL_WAIT)  # a worker's tasks and its poll drain together
    assert drain < float(settings["TimeoutStopSec"]) <= drain + 30, "TimeoutStopSec must cover the drain"


def test_the_dockerfile_runs_a_worker_or_a_decider() -> None:
    text = (DEPLOY / "docker" / "Dockerfile").read_text()
    exec_form = {key: json.loads(value) for key, value in re.findall(r"^(ENTRYPOINT|CMD)\s+(\[.*\])\s*$", text, re.M)}
    assert exec_form["ENTRYPOINT"] == ["pipeflow"], "exec form: pipeflow is PID 1 and gets the SIGTERM"
    assert re.search(r"^STOPSIGNAL SIGTERM$", text, re.M)
    env = {"PIPEFLOW_DOMAIN": "prod", "PIPEFLOW_STORE": "s3://bucket/runs"}
    ctx = check_command(exec_form["CMD"], env)
    assert ctx.params["domain"] == "prod" and ctx.params["store"] == "s3://bucket/runs"
    # the same image runs a decider: `docker run IMAGE decider FILE`
    decider = check_command(["decider", *exec_form["CMD"][1:2]], env)
    assert decider.params["targets"] == tuple(exec_form["CMD"][1:2])


def test_a_flag_the_cli_lacks_is_caught() -> None:
    with pytest.raises(AssertionError, match="--no-such-flag"):
        check_command(["worker", "pipe.py", "--domain", "d", "--no-such-flag", "1"], {})
