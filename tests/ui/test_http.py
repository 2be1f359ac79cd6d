"""Every route of `pipeflow ui` over plain HTTP: pages, fragments, actions' guards, bad ids, the token."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.parse
from typing import Any

from .conftest import Site, get, start_ui, stop


def q(**params: Any) -> str:
    return urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})


def statuses(body: str) -> list[str]:
    return re.findall(r'class="run-row" data-status="([A-Z_]+)"', body)


def test_runs_page_lists_every_kind_of_run(site: Site) -> None:
    code, body, headers = get(site.url + "/runs")
    assert code == 200 and "Content-Security-Policy" in headers
    assert {"COMPLETED", "FAILED", "CANCELED", "RUNNING"} <= set(statuses(body))
    assert site.runs["etl"].workflow_id in body and "etl.pipeline" in body
    assert get(site.url + "/")[0] == 302


def test_runs_page_filters(site: Site) -> None:
    assert set(statuses(get(site.url + "/runs?status=FAILED")[1])) == {"FAILED"}
    assert set(statuses(get(site.url + "/runs?status=RUNNING")[1])) == {"RUNNING"}
    assert "RUNNING" not in statuses(get(site.url + "/runs?status=CLOSED")[1])
    assert statuses(get(site.url + "/runs?" + q(pipeline="etl.pipeline"))[1]) == ["COMPLETED"]
    assert len(statuses(get(site.url + "/runs?" + q(q=site.runs["broken"].run_id[:10]))[1])) == 1
    assert len(statuses(get(site.url + "/runs?since=1h")[1])) == 7
    assert statuses(get(site.url + "/runs?tag=nothing-has-it")[1]) == []
    code, body, _ = get(site.url + "/runs?page=999&status=bogus&since=x")  # out of range and unknown: ignored
    assert code == 200 and len(statuses(body)) == 7


def test_run_pages(site: Site) -> None:
    for name in site.runs:
        code, body, _ = get(site.url + "/run?" + q(**site.ids(name)))
        assert code == 200, (name, body)
        assert 'id="tree"' in body and "<svg" in body
    body = get(site.url + "/run?" + q(**site.ids("etl")))[1]
    assert body.count('class="kind">group') == 1 and "&#34;clean_rows&#34;: 959" in body
    broken = get(site.url + "/run?" + q(id=site.runs["broken"].run_id))[1]  # a run id alone
    assert "ValueError: boom on 2" in broken and 'id="traceback"' in broken
    assert "&lt;b&gt;not bold&lt;/b&gt;" in broken and "<b>not bold</b>" not in broken  # escaped
    staged = get(site.url + "/run?" + q(**site.ids("staged")))[1]
    child = re.search(r'class="child" href="([^"]+)"', staged)
    assert child is not None
    code, body, _ = get(site.url + child.group(1).replace("&amp;", "&"))
    assert code == 200 and "parent run" in body


def test_fragments(site: Site) -> None:
    ids = site.ids("etl")
    code, svg, _ = get(site.url + "/run/timeline?" + q(**ids, start=0, end=0.5))
    assert code == 200 and svg.startswith("<svg") and "attempt 1" in svg
    assert get(site.url + "/run/timeline?" + q(**ids, start="nan", end="x"))[0] == 200
    for what in ("input", "result"):
        code, body, _ = get(site.url + "/run/value?" + q(**ids, what=what))
        assert code == 200 and "json" in body
    # each task step's input and result, as its worker got it and answered (the ETL: extract -> group(clean, stats))
    code, body, _ = get(site.url + "/run/value?" + q(**ids, what="input", step="0"))
    assert code == 200 and "&#34;seed&#34;: 7" in body and "&#34;rows&#34;: 1000" in body
    code, body, _ = get(site.url + "/run/value?" + q(**ids, what="result", step="0"))
    assert code == 200 and 'class="dataframe frame"' in body and "1000 rows" not in body
    code, body, _ = get(site.url + "/run/value?" + q(**ids, what="input", step="1.1"))
    assert code == 200 and 'class="dataframe frame"' in body  # stats got extract's frame
    code, body, _ = get(site.url + "/run/value?" + q(**ids, what="result", step="9.9"))
    assert code == 200 and "No task ran as step 9.9" in body
    code, text, _ = get(site.url + "/run/logs?" + q(**site.ids("broken"), step="1"))
    assert code == 200 and "about to fail on 2" in text
    code, body, _ = get(site.url + "/run/history?" + q(**ids))
    assert code == 200 and "WorkflowExecutionStarted" in body
    code, body, _ = get(site.url + "/run/history?" + q(**ids, type="MarkerRecorded", page=5))
    assert code == 200 and "WorkflowExecutionStarted</td>" not in body


def test_bad_ids_are_404_pages(site: Site) -> None:
    ids = site.ids("etl")
    for path in ("/run?run=nope", "/run", "/run?" + q(wf="nope", run="nope"), "/run/history?run=nope",
                 "/run/timeline?run=nope", "/run/value?run=nope&what=input", "/run/logs?run=nope",
                 "/run/value?" + q(**ids, what="secrets"), "/nowhere", "/run?run=" + "x" * 600):
        code, body, _ = get(site.url + path)
        assert code == 404, (path, code, body)
        assert "Traceback" not in body and "404" in body
    code, body, _ = get(site.url + "/run/logs?" + q(**ids, step="no-such-step"))
    assert code == 400 and "no attempt" in body


def _page_csrf(site: Site, name: str) -> str:
    body = get(site.url + "/run?" + q(**site.ids(name)))[1]
    found = re.search(r'name="csrf" value="([^"]+)"', body)
    assert found is not None
    return found.group(1)


def test_actions_need_the_csrf_secret_and_a_confirmation(site: Site) -> None:
    ids = site.ids("open")
    form = q(**ids).encode()
    assert get(site.url + "/run/cancel", data=form)[0] == 403
    assert get(site.url + "/run/cancel", data=q(**ids, csrf="forged").encode())[0] == 403
    csrf = _page_csrf(site, "open")
    evil = {"Origin": "http://evil.example"}
    assert get(site.url + "/run/cancel", data=q(**ids, csrf=csrf).encode(), headers=evil)[0] == 403
    code, body, _ = get(site.url + "/run/cancel", data=q(**ids, csrf=csrf).encode())
    assert code == 200 and 'id="confirm"' in body  # asks first: the run stays open
    assert site.runs["open"].status == "RUNNING"
    code, body, _ = get(site.url + "/run/signal", data=q(**ids, csrf=csrf, name="go", input="{nope").encode())
    assert code == 400 and "not JSON" in body
    deep = "[" * 5000 + "]" * 5000  # past the depth limit: refused by a scan, no RecursionError
    code, body, _ = get(site.url + "/run/signal", data=q(**ids, csrf=csrf, name="go", input=deep).encode())
    assert code == 400 and "nests deeper than 100 levels" in body and "Traceback" not in body
    code, _, _ = get(site.url + "/run/signal", data=q(**ids, csrf=csrf, name="go", input="1" * 100_000).encode())
    assert code == 413  # a body past the console's limit is not read
    closed = site.ids("etl")
    assert get(site.url + "/run/cancel", data=q(**closed, csrf=csrf, confirm="yes").encode())[0] == 409
    assert get(site.url + "/run/explode", data=q(**ids, csrf=csrf).encode())[0] == 404
    code, body, _ = get(site.url + "/run/resume", data=q(**closed, csrf=csrf, file="../../etc/x.py",
                                                           confirm="yes").encode())
    assert code == 400 and "a .py file in" in body


def test_host_header_of_another_name_is_refused(site: Site) -> None:
    assert get(site.url + "/runs", headers={"Host": "attacker.example"})[0] == 400


def test_a_non_loopback_host_needs_the_token(site: Site) -> None:
    proc, url = start_ui(site.folder, "--host", "0.0.0.0", "--token", "s3cret")
    try:
        assert get(url + "/runs")[0] == 401
        assert get(url + "/runs?token=wrong")[0] == 401
        code, _, headers = get(url + "/runs?token=s3cret&status=FAILED")
        assert code == 302 and headers["Location"].endswith("/runs?status=FAILED")
        cookie = headers["Set-Cookie"].split(";", 1)[0]
        assert "HttpOnly" in headers["Set-Cookie"]
        assert get(url + "/runs", headers={"Cookie": cookie})[0] == 200
        assert get(url + "/runs", headers={"Authorization": "Bearer s3cret"})[0] == 200
    finally:
        stop(proc)


def test_a_missing_extra_says_how_to_install_it(tmp_path: Any) -> None:
    code = ("import sys; sys.modules['flask'] = None; from pipeflow.cli import main; "
            "main(['ui', '--no-open'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 1 and "pip install 'pipeflow[ui]'" in done.stderr and "Traceback" not in done.stderr


def test_closed_runs_progress_is_read_after_the_page_and_shows_at_the_next_refresh(site: Site) -> None:
    proc, url = start_ui(site.folder)  # a console of its own: nothing read or kept yet
    try:
        code, body, _ = get(url + "/runs")
        assert code == 200
        etl_row = _row_of(body, site.runs["etl"].workflow_id)
        assert 'class="note pending"' in etl_row and "<meter" not in etl_row  # not waited for
        assert 'data-live="1"' in body and 'data-live-every="300"' in body  # the next refresh comes soon
        refreshed = _row_of(get(url + "/runs", headers={"X-Live": "1"})[1], site.runs["etl"].workflow_id)
        assert 'value="4"></meter> 4/4' in refreshed  # extract, clean, stats, report: read by the refresh
        again = _row_of(get(url + "/runs")[1], site.runs["etl"].workflow_id)
        assert 'value="4"></meter> 4/4' in again  # and kept: a closed run never changes
    finally:
        stop(proc)


def _row_of(body: str, workflow_id: str) -> str:
    found = re.search(rf'<tr class="run-row"[^>]*data-workflow-id="{re.escape(workflow_id)}".*?</tr>', body, re.S)
    assert found, f"no row for {workflow_id}"
    return found.group(0)


LAMBDAS = """
import pipeflow as pf


@pf.task
def words(text):
    return text.split()


@pf.task(lambda_function="shout-words")
def shout(items):
    return [item.upper() + "!" for item in items]


pipeline = pf.chain(words, shout)
"""


def test_a_lambda_steps_input_and_result_are_shown(tmp_path: Any) -> None:
    import json

    (tmp_path / "lambdas_ui.py").write_text(LAMBDAS)
    done = subprocess.run([sys.executable, "-m", "pipeflow", "run", "lambdas_ui.py", "--input", '"hello lambda"',
                           "--json", "--no-progress"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    ids = {"wf": run["workflow_id"], "run": run["run_id"]}
    proc, url = start_ui(tmp_path)
    try:
        code, body, _ = get(url + "/run?" + q(**ids))
        assert code == 200 and body.count('class="fetch">input') == 2  # both steps, the Lambda one too
        code, body, _ = get(url + "/run/value?" + q(**ids, what="input", step="1"))
        assert code == 200 and "&#34;hello&#34;" in body and "&#34;lambda&#34;" in body, body
        code, body, _ = get(url + "/run/value?" + q(**ids, what="result", step="1"))
        assert code == 200 and "&#34;HELLO!&#34;" in body and "&#34;LAMBDA!&#34;" in body, body
    finally:
        stop(proc)
