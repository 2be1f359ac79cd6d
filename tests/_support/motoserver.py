"""Launch a moto server on loopback with one lock around its SWF backend.

moto's SWF backend has no locking (two pollers can receive the same task) and
its empty polls sleep for a second; this launcher serialises every backend
call and releases the lock while a poll sleeps, so the server behaves as a
single-threaded SWF that still serves concurrent pollers.

An empty poll sleeps for a second, as moto does, unless ``--empty-poll-delay
SECONDS`` says otherwise (0: it returns at once, like a server that does not
delay empty polls; the benchmarks compare both).

Run as a script: ``python motoserver.py PORT [--empty-poll-delay SECONDS]``;
prints ``READY`` when listening.
"""

from __future__ import annotations

import argparse
import functools
import threading
import time


def _install_lock(empty_poll_delay: float | None = None) -> None:
    import moto.swf.models as swf_models

    lock = threading.RLock()

    def sleeping(seconds: float) -> None:
        lock.release()
        try:
            time.sleep(seconds if empty_poll_delay is None else empty_poll_delay)
        finally:
            lock.acquire()

    swf_models.sleep = sleeping  # type: ignore[attr-defined]
    backend_cls = swf_models.SWFBackend
    for name, member in list(vars(backend_cls).items()):
        if name.startswith("_") or not callable(member):
            continue

        def locked(fn=member):  # type: ignore[no-untyped-def]
            @functools.wraps(fn)
            def call(*args, **kwargs):  # type: ignore[no-untyped-def]
                with lock:
                    return fn(*args, **kwargs)

            return call

        setattr(backend_cls, name, locked())


def main() -> None:
    parser = argparse.ArgumentParser(description="moto server (SWF and S3) on 127.0.0.1, SWF behind one lock")
    parser.add_argument("port", type=int)
    parser.add_argument("--empty-poll-delay", type=float, default=None, metavar="SECONDS",
                        help="how long an empty poll waits before it returns [default: moto's 1 s]")
    args = parser.parse_args()
    port = args.port
    _install_lock(args.empty_poll_delay)
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", port, app, threaded=True)
    print("READY", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
