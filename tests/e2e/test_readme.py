"""Every ```bash block of README.md runs as written: each in a fresh directory and environment.

Placeholders are bound to real local servers: S3 is a moto server (`AWS_ENDPOINT_URL_S3`, the
bucket `my-bucket` created here), port 5005 a free port, and `$RUN` a run made for the block (a
completed ETL run, or one waiting for the signal `approve` for the cancel and signal block). Lines
ending in `&` (`pipeflow server`, `worker`, `decider`) start in the background and are stopped after
the block; a `pipeflow server`'s `export` lines are applied to the block's environment, as a reader
would paste them. A block preceded by `<!-- readme-test: skip: REASON -->` is not run; SKIPPED lists
them, so a new skip needs a reason in both places.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests._support.servers import TEST_CREDENTIALS, free_port, moto_server

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SKIPPED = {
    "python3 -m venv .venv && .venv/bin/pip install -q . && .venv/bin/pipeflow run": "installs from PyPI",
    "python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]'": "it is the test suite itself",
}
MY_PIPELINE = "from examples.pipelines.etl import pipeline as other_attr  # noqa: F401\n"
# Step 1 (paths count from 0) fails on its first attempt and passes on its second: a run with attempts to show logs of.
RETRIED = (
    "from pathlib import Path\n\nimport pipeflow as pf\n\n\n"
    "@pf.task(retries=1, retry_delay=0.1)\ndef flaky(x):\n    print('attempt at', x)\n"
    "    if not Path('attempted').exists():\n        Path('attempted').touch()\n        raise RuntimeError('first')\n"
    "    return x\n\n\n@pf.task\ndef done(x):\n    return x\n\n\npipeline = pf.chain(done, flaky)\n"
)
APPROVAL = "import pipeflow as pf\n\npipeline = pf.chain(pf.wait_signal('approve'), pf.wait_signal('approve'))\n"
_BLOCK = re.compile(r"(?:<!-- readme-test: skip: (?P<reason>[^>]*?) -->\n)?```bash\n(?P<body>.*?)```", re.S)


def _blocks() -> list[tuple[str, str | None]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [(m["body"], m["reason"]) for m in _BLOCK.finditer(text)]


def test_skipped_blocks_are_listed_with_a_reason() -> None:
    skipped = [body for body, reason in _blocks() if reason is not None]
    assert len(skipped) == len(SKIPPED)
    for body in skipped:
        assert any(body.startswith(prefix) for prefix in SKIPPED), body


def _commands(body: str) -> list[str]:
    return [line.strip() for line in body.splitlines() if line.strip() and not line.strip().startswith("#")]


def _base_env(home: Path, s3: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PIPEFLOW_"))}
    # No AWS credentials: `pipeflow server` generates a pair and prints the lines a client needs.
    env.update(HOME=str(home), PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", AWS_ENDPOINT_URL_S3=s3,
               AWS_CONFIG_FILE=str(home / "none"), AWS_SHARED_CREDENTIALS_FILE=str(home / "none"),
               PYTHONPATH=".")
    return env


def _folder(tmp: Path, name: str) -> Path:
    folder = tmp / name
    folder.mkdir()
    shutil.copytree(ROOT / "examples", folder / "examples", ignore=shutil.ignore_patterns("*.ipynb", "__pycache__"))
    (folder / "examples" / "__init__.py").touch()
    (folder / "examples" / "pipelines" / "__init__.py").touch()
    (folder / "my_pipeline.py").write_text(MY_PIPELINE)
    (folder / "input.json").write_text('{"rows": 1000, "seed": 7}')
    (folder / "approval.py").write_text(APPROVAL)
    (folder / "retried.py").write_text(RETRIED)
    return folder


def _bind_run(body: str, cwd: Path, env: dict[str, str], background: list[subprocess.Popen[bytes]]) -> None:
    """$RUN: a run waiting for `approve` (signal and cancel), one whose step 1 ran twice (logs), else an ETL run."""
    if "$RUN" not in body:
        return
    if "pipeflow signal" in body:
        with (cwd / "approval.log").open("wb") as log:
            proc = subprocess.Popen(["pipeflow", "run", "approval.py", "--no-progress"], cwd=cwd, env=env,
                                    stdout=subprocess.DEVNULL, stderr=log)
        background.append(proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            listed = subprocess.run(["pipeflow", "runs", "--status", "RUNNING", "--json"], cwd=cwd, env=env,
                                    capture_output=True, text=True)
            rows = json.loads(listed.stdout) if listed.returncode == 0 and listed.stdout.strip() else []
            if rows:
                env["RUN"] = rows[0]["workflow_id"]
                return
            time.sleep(0.3)
        raise AssertionError("the run waiting for a signal did not show in `pipeflow runs`: "
                             + (cwd / "approval.log").read_text())
    target, value = ("retried.py", "1") if "pipeflow logs" in body else (
        "examples/pipelines/etl.py", '{"rows": 1000, "seed": 7}')
    done = subprocess.run(["pipeflow", "run", target, "--input", value, "--json", "--no-progress"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    env["RUN"] = json.loads(done.stdout)["run_id"]


def _start_server(command: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """The README's `pipeflow server ... &`; its `export` lines go into `env`."""
    proc = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    for raw in proc.stderr:
        line = raw.decode(errors="replace").strip()
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = value
        if "listening on" in line:
            break
    else:
        raise AssertionError(f"pipeflow server did not start: exit {proc.wait()}")
    return proc


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    # All at once: a stopping server answers the long polls in flight, so workers and deciders go too.
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def _expected_code(line: str) -> int:
    match = re.search(r"#.*\bexits (\d+)", line)
    return int(match.group(1)) if match else 0


def test_readme_bash_blocks_run(tmp_path: Path) -> None:
    port = str(free_port())
    (tmp_path / "home").mkdir()
    with moto_server() as s3:
        import boto3

        boto3.client("s3", endpoint_url=s3, region_name="us-east-1", aws_access_key_id="testing",
                     aws_secret_access_key="testing").create_bucket(Bucket="my-bucket")
        ran = 0
        for number, (body, reason) in enumerate(_blocks()):
            if reason is not None:
                continue
            cwd = _folder(tmp_path, f"block{number}")
            env = _base_env(tmp_path / "home", s3)
            background: list[subprocess.Popen[bytes]] = []
            try:
                if "$RUN" in body:
                    env.update(TEST_CREDENTIALS)
                _bind_run(body, cwd, env, background)
                for line in _commands(body.replace("5005", port)):
                    if line.startswith("export "):
                        done = subprocess.run(["bash", "-c", f"{line.split('#')[0]}; env -0"], cwd=cwd, env=env,
                                              capture_output=True, check=True)
                        env = dict(item.split("=", 1) for item in done.stdout.decode().split("\0") if "=" in item)
                        continue
                    command = line.split(" #")[0].strip()
                    if command.endswith("&"):
                        command = command.removesuffix("&").strip()
                        if command.startswith("pipeflow server"):
                            background.append(_start_server(command, cwd, env))
                        else:
                            background.append(subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=cwd, env=env,
                                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                        continue
                    done = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True,
                                          timeout=60)
                    assert done.returncode == _expected_code(line), (
                        f"README block {number}: {command!r} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
                    ran += 1
            finally:
                _stop(background)
        assert ran >= 15
