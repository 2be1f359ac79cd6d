"""`pipeflow ui`: serve the console on a threaded WSGI server until interrupted."""

from __future__ import annotations

import sys
import threading
import webbrowser
from collections.abc import Callable

from werkzeug.serving import make_server

from ._app import create_app
from ._guard import Guard
from ._source import Source


def serve(source: Source, host: str = "127.0.0.1", port: int = 8233, token: str | None = None,
          open_browser: bool = True, say: Callable[[str], None] = lambda text: print(text, file=sys.stderr)) -> None:
    """Serve the console of `source` on host:port until Ctrl-C; say its address (with the token) first."""
    guard = Guard.for_host(host, port, token)
    app = create_app(source, guard)
    source.warm(app)  # before the address is said: the first page pays for no import or compilation
    server = make_server(host, port, app, threaded=True)
    guard.port = server.server_port
    shown = f"[{host}]" if ":" in host else host
    address = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else shown}:{server.server_port}/"
    url = address + (f"?token={guard.token}" if guard.token else "")
    say(f"pipeflow ui: {url}")
    if guard.token:
        say(f"token: {guard.token} (needed off loopback; open the address above once, or send Authorization: Bearer)")
    if open_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
