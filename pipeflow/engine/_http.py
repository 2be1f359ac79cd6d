"""The engine over HTTP: SWF's JSON 1.0 protocol, so boto3 reaches it with `endpoint_url`.

One thread per connection (HTTP/1.1 keep-alive): a long poll holds its thread
for up to 60 s. Clients should set botocore's ``read_timeout`` above 70 s,
since boto3's default (60 s) equals SWF's long-poll time.
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any, Protocol, Self

from .._errors import EngineError
from ._engine import Engine
from ._faults import SWFFault

__all__ = ["EngineServer", "serve"]

logger = logging.getLogger("pipeflow.engine.http")

_CONTENT_TYPE = "application/x-amz-json-1.0"
_SWF_NAMESPACE = "com.amazonaws.swf.base.model#"
# Faults raised by AWS's request layer rather than by SWF itself carry coral
# namespaces; botocore only reads what follows '#', other clients may not.
_CORAL_NAMESPACES = {
    "ValidationException": "com.amazon.coral.validate#",
    "ThrottlingException": "com.amazon.coral.availability#",
    "UnknownOperationException": "com.amazon.coral.service#",
    "SerializationException": "com.amazon.coral.service#",
    "InternalFailure": "com.amazon.coral.service#",
    "AccessDeniedException": "com.amazon.coral.service#",
    "ServiceUnavailable": "com.amazon.coral.availability#",
}
# Every SWF fault is a 400; these are the server's own troubles (botocore retries them).
_STATUS = {"ServiceUnavailable": 503, "InternalFailure": 500}

Params = dict[str, Any]
_Convert = Callable[[Any], Any]


class SupportsCall(Protocol):
    """What the HTTP front needs of an engine."""

    def call(self, operation: str, params: Params) -> Params: ...


class _Fault(Exception):
    """A request the front itself refuses, before it reaches the engine."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _Fault("SerializationException", f"expected a timestamp, got {type(value).__name__}")
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise _Fault("SerializationException", f"unparsable timestamp {value!r}") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    try:
        return datetime.fromtimestamp(value, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise _Fault("SerializationException", f"timestamp out of range: {value!r}") from None


def _converter(shape: Any, seen: frozenset[str] = frozenset()) -> _Convert | None:
    """A function turning the wire form of `shape` into engine params, or None if nothing to turn."""
    kind = shape.type_name
    if kind == "timestamp":
        return _to_datetime
    if shape.name in seen:
        return None
    seen = seen | {shape.name}
    if kind == "structure":
        members = {name: c for name, member in shape.members.items() if (c := _converter(member, seen))}
        if not members:
            return None

        def structure(value: Any) -> Any:
            if not isinstance(value, dict):
                return value
            return {k: (members[k](v) if k in members and v is not None else v) for k, v in value.items()}

        return structure
    if kind == "list":
        item = _converter(shape.member, seen)
        if item is None:
            return None
        return lambda value: [item(v) for v in value] if isinstance(value, list) else value
    if kind == "map":
        val = _converter(shape.value, seen)
        if val is None:
            return None
        return lambda value: {k: val(v) for k, v in value.items()} if isinstance(value, dict) else value
    return None


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def _error_body(code: str, message: str) -> bytes:
    namespace = _CORAL_NAMESPACES.get(code, _SWF_NAMESPACE)
    return json.dumps({"__type": namespace + code, "message": message}).encode()


class _Protocol:
    """SWF's JSON 1.0 protocol, routed by botocore's SWF service model."""

    def __init__(self, engine: SupportsCall) -> None:
        import botocore.session

        model = botocore.session.get_session().get_service_model("swf")
        self._engine = engine
        self._prefix = model.metadata["targetPrefix"] + "."
        self._operations: dict[str, _Convert | None] = {}
        for name in model.operation_names:
            shape = model.operation_model(name).input_shape
            self._operations[name] = _converter(shape) if shape is not None else None

    def operation(self, target: str) -> str | None:
        """The operation named by an X-Amz-Target header, or None."""
        if target.startswith(self._prefix):
            name = target[len(self._prefix) :]
            if name in self._operations:
                return name
        return None

    def handle(self, operation: str | None, target: str, body: bytes) -> tuple[int, bytes]:
        """Answer one request: (HTTP status, JSON body)."""
        try:
            if operation is None:
                raise _Fault("UnknownOperationException", f"unknown operation {target!r}")
            params = self._decode(operation, body)
            result = self._engine.call(operation, params)
        except _Fault as fault:
            return 400, _error_body(fault.code, fault.message)
        except SWFFault as fault:
            return _STATUS.get(fault.code, 400), _error_body(fault.code, fault.message)
        except Exception:
            logger.exception("%s failed inside the engine", operation)
            return 500, _error_body("InternalFailure", "the engine failed; see the server's log")
        try:
            return 200, json.dumps(result, default=_json_default, separators=(",", ":")).encode()
        except (TypeError, ValueError):
            logger.exception("%s returned a value that is not JSON", operation)
            return 500, _error_body("InternalFailure", "the engine returned a value that is not JSON")

    def _decode(self, operation: str, body: bytes) -> Params:
        try:
            params = json.loads(body) if body.strip() else {}
        except ValueError as exc:
            raise _Fault("SerializationException", f"request body is not JSON: {exc}") from None
        if not isinstance(params, dict):
            raise _Fault("SerializationException", "request body must be a JSON object")
        convert = self._operations[operation]
        return convert(params) if convert is not None else params


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pipeflow"
    sys_version = ""
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Without it, a response written after a long poll can wait on the
        # client's delayed ACK (Nagle): tens of milliseconds per request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    def finish(self) -> None:
        self.server.untrack(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.server.begin(self.connection)
        try:
            self._post()
        finally:
            self.server.end(self.connection)

    def _post(self) -> None:
        started = time.perf_counter()
        target = self.headers.get("X-Amz-Target", "")
        operation = self.server.protocol.operation(target)
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            status, body = 411, _error_body("SerializationException", "a Content-Length is required")
            self.close_connection = True
        else:
            status, body = self.server.protocol.handle(operation, target, self.rfile.read(int(length)))
        if self.server.closing:
            self.close_connection = True
        # logged before the answer goes out, so the line exists once a client has its answer
        logger.debug("%s %d %.1fms", operation or "unknown", status, (time.perf_counter() - started) * 1000)
        self._reply(status, body)

    def do_GET(self) -> None:  # noqa: N802
        self._reply(404, _error_body("UnknownOperationException", "SWF's protocol uses POST /"))
        self.close_connection = True

    def _reply(self, status: int, body: bytes) -> None:
        head = (
            f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}\r\n"
            f"Content-Type: {_CONTENT_TYPE}\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"x-amzn-RequestId: {uuid.uuid4()}\r\n"
            f"{'Connection: close' + chr(13) + chr(10) if self.close_connection else ''}"
            "\r\n"
        ).encode("latin-1")
        # One write: headers and body in a single segment.
        try:
            self.wfile.write(head + body)
        except OSError:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        # http.server writes to stderr; do_POST logs one line per request instead.
        logger.debug(format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # server_close() must not wait for handlers: one may sit in a 60 s long poll
    # that only closing the engine (after stop) ends.
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], protocol: _Protocol) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.protocol = protocol
        self.closing = False
        self._connections: set[socket.socket] = set()
        self._busy: set[socket.socket] = set()  # connections inside a request
        self._changed = threading.Condition()
        super().__init__(address, _Handler)

    def track(self, conn: socket.socket) -> None:
        with self._changed:
            self._connections.add(conn)

    def untrack(self, conn: socket.socket) -> None:
        with self._changed:
            self._connections.discard(conn)

    def begin(self, conn: socket.socket) -> None:
        with self._changed:
            self._busy.add(conn)

    def end(self, conn: socket.socket) -> None:
        with self._changed:
            self._busy.discard(conn)
            self._changed.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: not self._busy, timeout)

    def drop_connections(self, *, idle_only: bool) -> None:
        """Shut connections down, waking their handlers (blocked reading the next request) so they end."""
        with self._changed:
            conns = [c for c in self._connections if not (idle_only and c in self._busy)]
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class EngineServer:
    """An engine served over HTTP from a background thread; binds when constructed."""

    def __init__(self, engine: SupportsCall, host: str = "127.0.0.1", port: int = 0) -> None:
        self._httpd = _Server((host, port), _Protocol(engine))
        self._thread: threading.Thread | None = None
        bound_host, bound_port = str(self._httpd.server_address[0]), int(self._httpd.server_address[1])
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.url = f"http://{shown}:{bound_port}"

    def start(self) -> Self:
        """Serve from a daemon thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="pipeflow-http", daemon=True
            )
            self._thread.start()
        return self

    def stop_accepting(self) -> None:
        """Take no new connection or request; requests under way go on and are answered."""
        self._httpd.closing = True  # each connection closes after its current answer
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()
        self._httpd.drop_connections(idle_only=True)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop accepting, give requests under way `timeout` seconds, then close every connection.

        The engine stays open: its owner closes it (between `stop_accepting` and
        `stop`, so that long polls under way get their empty answer).
        """
        self.stop_accepting()
        self._httpd.wait_idle(timeout)
        self._httpd.drop_connections(idle_only=False)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve(host: str = "127.0.0.1", port: int = 5005, db: str | None = None, poll_timeout: float = 60.0) -> None:
    """Serve a new engine until SIGTERM or SIGINT, then close it so its state is consistent.

    `poll_timeout`: seconds a long poll waits for a task (SWF's 60 unless a test wants less).
    """
    engine = Engine(db=db, poll_timeout=poll_timeout)
    try:
        server = EngineServer(engine, host, port)
    except OSError as exc:
        engine.close()
        raise EngineError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.start()
        print(f"pipeflow server listening on {server.url}", file=sys.stderr, flush=True)
        while not stop.wait(1.0):
            pass
        logger.info("stopping")
    finally:
        # In this order: no new requests; closing the engine answers the long
        # polls under way (empty) and leaves its state consistent; then the
        # connections go, once those answers are out.
        try:
            server.stop_accepting()
        finally:
            try:
                engine.close()
            finally:
                server.stop()
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
