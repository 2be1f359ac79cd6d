"""The console's routes: a Flask app over a Source, pages rendered here from Jinja2 templates.

Pages: `/runs` (filters, pages, live), `/run` (summary, failure, steps, timeline, checkpoints,
values), `/run/history` (the raw events, paged). Fragments the page's script fetches:
`/run/timeline` (a zoomed SVG), `/run/value` (an input or result read on demand), `/run/logs`.
Actions (`/run/cancel`, `/run/signal`, `/run/resume`) are POSTs with the CSRF secret, each
confirmed on a page of its own first; each is a command of the CLI too.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from .._errors import EngineError, PipeflowError
from ..client import attempt_logs, render_logs
from ..wire import load_json
from ._details import checkpoints_of, failure_of, history_page, offloaded, preview, raw_value, step_preview
from ._gantt import gantt
from ._guard import COOKIE, Guard
from ._lists import STATUSES, Filters, choose, page_of
from ._source import RunData, Source
from ._steps import attempts_of, step_tree
from ._text import duration, when

log = logging.getLogger("pipeflow.ui")
HERE = Path(__file__).resolve().parent
LIVE_EVERY = 2.0  # seconds between refreshes of a page showing an open run
PENDING_EVERY = 0.3  # ... of a runs page whose closed runs' progress its first refresh reads
MAX_BODY = 64 * 1024  # bytes of a POSTed form: a signal's input fits SWF's 32 KB; more is refused (413)


def create_app(source: Source, guard: Guard) -> Flask:
    """The console's WSGI app."""
    app = Flask("pipeflow.ui", template_folder=str(HERE / "templates"), static_folder=str(HERE / "static"))
    app.jinja_env.autoescape = True
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.jinja_env.filters.update(when=when, duration=duration)
    app.jinja_env.globals.update(csrf=guard.csrf, live_every=int(LIVE_EVERY * 1000))

    @app.before_request
    def check() -> BaseResponse | None:
        if not guard.host_allowed(request.headers.get("Host")):
            abort(400, "this console answers only to its own address")
        given = request.args.get("token")
        if guard.token is not None:
            bearer = request.headers.get("Authorization", "").removeprefix("Bearer ").strip() or None
            if guard.token_ok(given):
                args = {k: v for k, v in request.args.items() if k != "token"}
                response = redirect(request.path + ("?" + _encode(args) if args else ""))
                response.set_cookie(COOKIE, guard.token, httponly=True, samesite="Strict")
                return response
            if not (guard.token_ok(request.cookies.get(COOKIE)) or guard.token_ok(bearer)):
                abort(401, "give the token `pipeflow ui` printed: open the address it printed, with ?token=")
        if request.method == "POST":
            if not guard.origin_ok(request.headers.get("Origin"), request.headers.get("Host")):
                abort(403, "a form of another site")
            if not guard.csrf_ok(request.form.get("csrf")):
                abort(403, "this form is stale or not from this console: reload the page")
        return None

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"  # no-referrer would make a form's Origin "null"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int]:
        return render_template("error.html", code=exc.code, title=exc.name, message=exc.description), exc.code or 500

    @app.errorhandler(PipeflowError)
    def our_error(exc: PipeflowError) -> tuple[str, int]:
        code = 404 if isinstance(exc, EngineError) and exc.code == "UnknownResourceFault" else 400
        return render_template("error.html", code=code, title="Not found" if code == 404 else "Cannot do that",
                               message=str(exc)), code

    @app.errorhandler(Exception)
    def bug(exc: Exception) -> tuple[str, int]:
        if isinstance(exc, HTTPException):
            return http_error(exc)
        log.exception("pipeflow ui: %s %s", request.method, request.path)
        return render_template("error.html", code=500, title="Internal error",
                               message=f"{type(exc).__name__}: {exc}"), 500

    @app.get("/")
    def home() -> BaseResponse:
        return redirect(url_for("runs"))

    @app.get("/runs")
    def runs() -> str:
        filters = Filters.parse(request.args)
        with source.reader():  # one read of the embedded state for the whole page
            every = source.runs()
            kept = choose(every, filters)
            shown, page, pages = page_of(kept, filters.page)
            # A page's first serving leaves closed runs' progress not read yet to its first refresh,
            # which comes sooner than the usual one.
            pending = source.add_progress(shown, closed=request.headers.get("X-Live") == "1")
        return render_template("runs.html", rows=shown, filters=filters, page=page, pages=pages, total=len(kept),
                               count=len(every), statuses=STATUSES, pipelines=sorted({r.pipeline for r in every}),
                               live=pending or any(r.open for r in shown) or (page == 1 and not filters.status),
                               live_every=int(PENDING_EVERY * 1000) if pending else int(LIVE_EVERY * 1000),
                               source=source)

    def _run() -> RunData:
        ident = request.values.get("run") or request.values.get("id")
        if not ident or len(ident) > 512:
            abort(404, "no run named: give ?run=RUN_ID (and &wf=WORKFLOW_ID)")
        return source.run(ident, request.values.get("wf") or None)

    def _derived(data: RunData) -> dict[str, Any]:
        if "attempts" not in data.derived:
            attempts, end = attempts_of(data.events)
            data.derived.update(attempts=attempts, end=end, tree=step_tree(attempts))
        return data.derived

    @app.get("/run")
    def run() -> str:
        with source.reader():
            return _run_page()

    def _run_page() -> str:
        data = _run()
        derived = _derived(data)
        row = data.row
        try:
            store = source.store_of(data.events)
            store_error = None
        except PipeflowError as exc:
            store, store_error = None, str(exc)
        from ..client import progress_of

        return render_template(
            "run.html", run=row, data=data, tree=derived["tree"], attempts=len(derived["attempts"]),
            timeline=gantt(derived["attempts"], derived["end"]), failure=failure_of(data.events, store, row.workflow_id,
                                                                                 row.run_id),
            checkpoints=checkpoints_of(data.events), progress=progress_of(data.events), store_error=store_error,
            open_counts=source.open_counts(row) if row.open else None, events=len(data.events),
            offloaded={what: offloaded(raw_value(data.events, what)) for what in ("input", "result")},
            values={what: None if offloaded(raw_value(data.events, what)) else preview(data.events, what, store)
                    for what in ("input", "result")},
            done=request.args.get("done", ""), live=row.open)

    @app.get("/run/timeline")
    def timeline() -> Response:
        data = _run()
        derived = _derived(data)
        svg = gantt(derived["attempts"], derived["end"], _number("start"), _number("end"))
        return Response(str(svg), mimetype="text/html")

    @app.get("/run/value")
    def value() -> Response:
        data = _run()
        what = request.args.get("what", "")
        if what not in ("input", "result"):
            abort(404, "ask for what=input or what=result")
        try:
            store = source.store_of(data.events)
        except PipeflowError as exc:
            return Response(f'<p class="error">{Markup.escape(str(exc))}</p>', mimetype="text/html")
        step = request.args.get("step")  # a task step's value (its last attempt), else the run's
        if step is not None and len(step) <= 512:
            return Response(str(step_preview(data.events, step, what, store)), mimetype="text/html")
        return Response(str(preview(data.events, what, store)), mimetype="text/html")

    @app.get("/run/logs")
    def logs() -> Response:
        data = _run()
        attempt = request.args.get("attempt")
        try:
            store = source.store_of(data.events)
        except PipeflowError:
            store = None
        found = attempt_logs(data.events, store, data.row.workflow_id, data.row.run_id,
                             step=request.args.get("step") or None, attempt=int(attempt) if attempt else None)
        return Response(render_logs(found), mimetype="text/plain")

    @app.get("/run/history")
    def history() -> str:
        data = _run()
        kind = request.args.get("type") or None
        rows, pages = history_page(data.events, _int("page", 1), kind)
        return render_template("history.html", run=data.row, rows=rows, page=min(_int("page", 1), pages),
                               pages=pages, kind=kind or "", kinds=sorted({e["eventType"] for e in data.events}))

    @app.post("/run/<action>")
    def act(action: str) -> BaseResponse | str:
        if action not in ("cancel", "signal", "resume"):
            abort(404, f"no action {action!r}")
        data = _run()
        row = data.row
        if action != "resume" and not row.open:
            abort(409, f"run {row.run_id} has closed ({row.status}): only an open run can be canceled or signalled")
        form = {k: v for k, v in request.form.items() if k != "csrf"}
        signal_value: Any = None
        if action == "signal":
            if not form.get("name"):
                abort(400, "give the signal's name")
            try:  # depth checked before parsing, as everywhere JSON comes from elsewhere
                signal_value = load_json(form.get("input") or "null", "the signal's input")
            except ValueError as exc:
                abort(400, f"the signal's input is not JSON: {exc}")
        if request.form.get("confirm") != "yes":
            return render_template("confirm.html", run=row, action=action, form=form)
        if action == "cancel":
            source.act("cancel", row, reason=form.get("reason") or "canceled from pipeflow ui")
        elif action == "signal":
            source.act("signal", row, name=form["name"], value=signal_value)
        else:
            _resume(source, row.run_id, form.get("file", ""), form.get("step", ""))
        return redirect(url_for("run", wf=row.workflow_id, run=row.run_id, done=action))

    return app


def _encode(args: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode(args)


def _int(name: str, default: int) -> int:
    try:
        return int(request.args.get(name, default))
    except ValueError:
        return default


def _number(name: str) -> float | None:
    try:
        value = float(request.args.get(name, ""))
    except ValueError:
        return None
    return value if value == value and abs(value) < 1e9 else None


def _resume(source: Source, run_id: str, file: str, step: str) -> None:
    """`pipeflow resume FILE RUN [--from STEP]` in a process of its own; FILE must be a .py file in this folder."""
    here = Path.cwd().resolve()
    target = (here / file.partition(":")[0]).resolve()
    if not file or target.suffix != ".py" or not target.is_file() or here not in target.parents:
        abort(400, f"give the pipeline file to resume with: a .py file in {here} (relative to it)")
    command = [sys.executable, "-m", "pipeflow", "resume", file, run_id, "--no-progress", "--json"]
    if step:
        command += ["--from", step]
    if source.backend == "swf":
        command += ["--backend", "swf", "--domain", str(source.domain)]
        command += ["--endpoint-url", source.endpoint_url] if source.endpoint_url else []
        command += ["--region", source.region] if source.region else []
    folder = here / ".pipeflow"
    folder.mkdir(mode=0o700, exist_ok=True)
    out = open(folder / f"ui-resume-{run_id[:16].replace('/', '_')}.log", "ab")
    subprocess.Popen(command, cwd=here, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
                     env=dict(os.environ))
    out.close()
