"""Launch a moto server on loopback with one lock around its SWF backend.

moto's SWF backend has no locking (two pollers can receive the same task) and
its empty polls sleep for a second; this launcher serialises every backend
call and releases the lock while a poll sleeps, so the server behaves as a
single-threaded SWF that still serves concurrent pollers.

Run as a script: ``python motoserver.py PORT``; prints ``READY`` when listening.
"""

from __future__ import annotations

import functools
import sys
import threading
import time


def _install_lock() -> None:
    import moto.swf.models as swf_models

    lock = threading.RLock()

    def sleeping(seconds: float) -> None:
        lock.release()
        try:
            time.sleep(seconds)
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
    port = int(sys.argv[1])
    _install_lock()
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", port, app, threaded=True)
    print("READY", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
