"""The docs site: `mkdocs build --strict` passes, and every example on every page runs.

The convention (docs/index.md, "About the examples"): on each page, in
order, in one fresh temporary folder as the working directory:

- a ```python block runs, all of a page's blocks in one namespace; if its first line is
  `# file: NAME` it is written to NAME instead (any language but text: a pipeline file, a pyproject.toml);
- a ```bash block runs with `bash -e`, `pipeflow` on PATH; the variables it sets stay set for the
  page's later blocks, as in one terminal;
- ```text and every other language are shown, never run.

Each page runs in a process group of its own, ended after the page (so a `... &` left behind
goes too), with fake AWS credentials and no PIPEFLOW_* variables. A page that mentions `s3://`
gets a moto server as its S3 (`AWS_ENDPOINT_URL_S3`, bucket `my-bucket` created); a page that
uses SWF (`--backend swf`, `Client.swf(`, `endpoint_url=`) gets a `pipeflow server` standing in
for Amazon SWF as `AWS_ENDPOINT_URL_SWF`, its own (moto is shared). The pages run a few at a time
(they mostly wait on timers and polls). One test per page, so a broken example names its page.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import pytest

import converters
import pipeflow
import pipeflow.cli
import pipeflow.testing
from tests._support.servers import TEST_CREDENTIALS, pipeflow_server

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
BIN = Path(sys.executable).parent
PAGES = sorted(path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md"))
_FENCE = re.compile(r"^(?P<indent>[ ]*)```(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ ]*$", re.DOTALL | re.MULTILINE)
_SWF = ("--backend swf", "Client.swf(", "endpoint_url=")
PAGE_TIMEOUT = 120
PARALLEL = 4  # pages run at once


def blocks(page: str, text: str | None = None) -> list[dict[str, str]]:
    """The page's examples to run or write, in order (see the module docstring)."""
    text = (DOCS / page).read_text(encoding="utf-8") if text is None else text
    found = []
    for match in _FENCE.finditer(text):
        lang, indent = match["lang"], match["indent"]
        code = "\n".join(line[len(indent):] for line in match["body"].splitlines()) + "\n"
        where = f"docs/{page}:{text.count(chr(10), 0, match.start()) + 1}"
        first = code.split("\n", 1)[0].strip()
        if lang != "text" and first.startswith("# file:"):
            found.append({"kind": "file", "name": first.removeprefix("# file:").strip(), "code": code, "where": where})
        elif lang in ("python", "bash"):
            found.append({"kind": lang, "name": "", "code": code, "where": where})
    return found


def _environment(page_text: str, home: Path, s3: str | None, swf: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PIPEFLOW_"))}
    env.update(TEST_CREDENTIALS, AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE=str(home / "none"), AWS_SHARED_CREDENTIALS_FILE=str(home / "none"),
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", COLUMNS="120")
    if s3 is not None and "s3://" in page_text:
        env["AWS_ENDPOINT_URL_S3"] = s3
    if swf is not None and any(marker in page_text for marker in _SWF):
        env["AWS_ENDPOINT_URL_SWF"] = swf
    return env


def _run_page(page: str, folder: Path, s3: str | None) -> tuple[int | None, str]:
    """Run the page's examples in `folder`/work; (exit code, None on timeout; what they printed).

    A page that uses SWF gets a `pipeflow server` of its own. Pages name the same domains and
    pipelines (`--domain analytics`, `etl.py`): on a shared server one page's workers would take
    another's tasks, and die with their page.
    """
    if any(marker in (DOCS / page).read_text(encoding="utf-8") for marker in _SWF):
        with pipeflow_server() as url:
            return _run_page_on(page, folder, s3, url)
    return _run_page_on(page, folder, s3, None)


def _run_page_on(page: str, folder: Path, s3: str | None, swf: str | None) -> tuple[int | None, str]:
    work, home = folder / "work", folder / "home"
    work.mkdir(parents=True)
    home.mkdir()
    plan = folder / "blocks.json"
    plan.write_text(json.dumps(blocks(page)), encoding="utf-8")
    env = _environment((DOCS / page).read_text(encoding="utf-8"), home, s3, swf)
    # Output to a file, not a pipe: a process the page left in the background would hold a pipe open.
    with (folder / "output.txt").open("wb") as out:
        proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("_runner.py")), str(plan)], cwd=work,
                                env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        code: int | None = None
        try:
            code = proc.wait(timeout=PAGE_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the page's own group: whatever it left running in the background
            except ProcessLookupError:
                pass
            proc.wait()
    return code, (folder / "output.txt").read_text(encoding="utf-8", errors="replace")


RUNNABLE = [page for page in PAGES if blocks(page)]


@pytest.fixture(scope="module")
def page_runs(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[dict[str, Future[tuple[int | None, str]]]]:
    """Every page's examples, started at once, PARALLEL pages at a time (they mostly wait on timers and polls)."""
    # Only the pages this session runs (`-k tutorial` runs one), and the servers only when they need them.
    selected = [item.callspec.params["page"] for item in request.session.items
                if getattr(item, "originalname", "") == "test_examples_run" and hasattr(item, "callspec")]
    texts = "".join((DOCS / page).read_text(encoding="utf-8") for page in selected)
    s3 = None
    if "s3://" in texts:
        s3 = request.getfixturevalue("moto_session_url")
        import boto3

        boto3.client("s3", endpoint_url=s3, region_name="us-east-1", aws_access_key_id="testing",
                     aws_secret_access_key="testing").create_bucket(Bucket="my-bucket")
    root = tmp_path_factory.mktemp("pages")
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        yield {page: pool.submit(_run_page, page, root / page.replace("/", "_"), s3)
               for page in selected}


@pytest.mark.slow
@pytest.mark.parametrize("page", RUNNABLE)
def test_examples_run(page: str, page_runs: dict[str, Future[tuple[int | None, str]]]) -> None:
    code, output = page_runs[page].result()
    print(output)  # shown with -rP: what the page's examples printed
    assert code is not None, f"the examples of docs/{page} did not finish within {PAGE_TIMEOUT} s:\n{output[-6000:]}"
    assert code == 0, f"an example of docs/{page} failed:\n{output[-6000:]}"


def test_the_runner_follows_the_convention_and_names_a_failing_block(tmp_path: Path) -> None:
    """Files are written (their `# file:` line kept, so line numbers match the page), bash variables carry to later
    blocks, python blocks share names; a failure names its place on the page."""
    page = "\n".join([
        "# A page", "", "```python", "# file: data.py", "ANSWER = 41", "```", "",
        "```bash", "ANSWER=$(python -c 'import data; print(data.ANSWER)')", "```", "",
        "```python", "import os", "answer = int(os.environ['ANSWER']) + 1", "```", "",
        "```text", "never run", "```", "",
        "```python", "assert answer == 42", "raise RuntimeError('broken example')", "```", "",
    ])
    plan = tmp_path / "blocks.json"
    plan.write_text(json.dumps(blocks("fake.md", page)), encoding="utf-8")
    assert [b["kind"] for b in json.loads(plan.read_text())] == ["file", "bash", "python", "python"]
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("_runner.py")), str(plan)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "RuntimeError: broken example" in done.stderr
    assert "FAILED: the python block at docs/fake.md:21" in done.stderr


def test_every_fence_is_closed() -> None:
    """Each page's examples parse: an unterminated fence would silently hide the rest of a page from the test."""
    for page in PAGES:
        text = (DOCS / page).read_text(encoding="utf-8")
        fences = [line for line in text.splitlines() if line.lstrip().startswith("```")]
        assert len(fences) % 2 == 0, f"docs/{page} has an unclosed ``` fence"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(out)], cwd=ROOT,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, capture_output=True, text=True, timeout=300, check=False)
    print(f"mkdocs build --strict: {time.monotonic() - started:.1f} s")
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_site_builds_strict(site: Path) -> None:
    assert (site / "index.html").is_file()
    assert (site / "reference" / "cli" / "index.html").is_file()


def _anchors(page: Path) -> set[str]:
    return set(re.findall(r'id="([^"]+)"', page.read_text(encoding="utf-8")))


@pytest.mark.parametrize("package", [pipeflow, converters, pipeflow.testing], ids=lambda p: p.__name__)
def test_api_reference_covers_every_public_name(site: Path, package: ModuleType) -> None:
    name = package.__name__
    page = {"pipeflow": "api", "pipeflow.testing": "testing"}.get(name, name)
    anchors = _anchors(site / "reference" / page / "index.html")
    # `pipeflow.task` is also a module: the decorator is documented as pipeflow.task.task
    missing = [n for n in package.__all__ if f"{name}.{n}" not in anchors and f"{name}.{n}.{n}" not in anchors]
    assert not missing, f"public names of {name} missing from the API reference: {missing}"


def test_cli_reference_lists_every_command(site: Path) -> None:
    text = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    missing = [name for name in pipeflow.cli.cli.commands if f"pipeflow {name}" not in text]
    assert not missing, f"commands missing from the CLI reference: {missing}"


def test_exit_codes_page_is_the_table_of_the_code(site: Path) -> None:
    """The page's table is generated from the docstring of the module that decides exit codes."""
    exit_module = inspect.getmodule(pipeflow.cli.main)
    assert exit_module is not None
    codes = {value for key, value in vars(exit_module).items() if key.startswith("EXIT_")}
    text = (site / "reference" / "exit-codes" / "index.html").read_text(encoding="utf-8")
    shown = {int(code) for code in re.findall(r"<tr>\s*<td>(\d+)</td>", text)}
    assert shown == codes
