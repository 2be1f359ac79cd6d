"""`pipeflow.testing`, the pytest plugin: its fixtures and `assert_step`, run by pytester in a fresh pytest.

The inner tests run in a subprocess (`runpytest_subprocess`), so the plugin is found the way a
user's pytest finds it: through the `pytest11` entry point of the installed package.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).parents[2] / "examples"

INNER = '''
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import pipeflow as pf
from pipeflow.testing import assert_step


@pf.task
def double(x):
    return 2 * x


@pf.task
def total(xs):
    return sum(xs)


@pf.task(retries=2, retry_delay=600)
def flaky(x):
    mark = Path(os.environ["FLAKY_MARK"])
    if not mark.exists():
        mark.write_text("failed once")
        raise ValueError("the first attempt fails")
    return x + 1


@pf.task
def boom(x):
    raise RuntimeError(f"boom {x}")


def test_result_and_steps(pipeflow_run):
    result, run = pipeflow_run(pf.chain(pf.map(double), total), [1, 2, 3])
    assert result == 12
    assert run.status == "COMPLETED"
    assert_step(run, "0.map.2", task=double.name)
    assert_step(run, "1", attempts=1)


def test_fake_time_makes_a_600_s_back_off_instant(pipeflow_run, pipeflow_fake_time, tmp_path, monkeypatch):
    monkeypatch.setenv("FLAKY_MARK", str(tmp_path / "mark"))
    began = time.monotonic()
    result, run = pipeflow_run(flaky, 1)
    assert result == 2
    assert time.monotonic() - began < 60
    assert_step(run, "0", attempts=2)


def test_a_failure_raises_or_is_returned(pipeflow_run):
    with pytest.raises(pf.TaskFailed, match="boom 7"):
        pipeflow_run(boom, 7)
    result, run = pipeflow_run(boom, 8, raises=False)
    assert result is None and run.status == "FAILED"
    assert_step(run, "0", status="FAILED", error="boom 8")


def test_assert_step_says_what_the_run_did(pipeflow_run):
    _, run = pipeflow_run(pf.chain(double, double), 1)
    with pytest.raises(AssertionError, match=r"step 1 of run .*: 1 attempt\\(s\\) \\(expected 3\\)"):
        assert_step(run, "1", attempts=3)
    with pytest.raises(AssertionError, match=r"has no step '7'; its steps: 0, 1"):
        assert_step(run, "7")


def test_client_submits_and_signals_nothing_left_on_disk(pipeflow_client, tmp_path):
    run = pipeflow_client.submit(pf.chain(double, double), 5)
    assert run.result() == 20
    assert not Path(".pipeflow").exists()


def test_a_server_for_the_test(pipeflow_server, tmp_path):
    client = pipeflow_server.client(workers=1, store=str(tmp_path / "store"))
    try:
        run = client.submit(pf.chain(double, double), 3)
        assert run.result() == 12
    finally:
        client.close()
    listed = subprocess.run([sys.executable, "-m", "pipeflow", "runs", "--backend", "swf", "--domain", "pipeflow",
                             "--endpoint-url", pipeflow_server.endpoint_url, "--json"],
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert run.run_id in listed.stdout


def test_wrong_on_purpose(pipeflow_run):  # a failed step check fails the test, saying why
    _, run = pipeflow_run(double, 1)
    assert_step(run, "0", status="FAILED")
'''


def test_the_plugins_fixtures_in_a_users_pytest(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=6, failed=1)
    result.stdout.fnmatch_lines(["*step 0 of run *: status COMPLETED (expected FAILED); attempt 1: COMPLETED*"])


def test_the_example_test_in_examples_passes(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(str(EXAMPLES / "tests"), "-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
