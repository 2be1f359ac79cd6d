"""The engine over HTTP: SWF's JSON 1.0 protocol, so boto3 reaches it with `endpoint_url`.

Who may call: with `auth`, only requests SigV4-signed with those credentials (`_sigv4`);
without, anyone who can reach the port, so that is allowed on loopback only.

What a request may be (each refusal an SWF-shaped JSON error, HTTP 400, connection closed):

==========================  ==========================================  ========================
request line                8 KiB                                       SerializationException
request line and headers    64 KiB in all, 100 headers                  SerializationException
Content-Length              required, one, digits; no Transfer-Encoding SerializationException
body                        1 MiB + 64 KiB (SWF's requests are <= 1 MB) ValidationException
JSON body                   nested at most 100 deep (converters' limit)  SerializationException
==========================  ==========================================  ========================

One handler thread per connection (HTTP/1.1 keep-alive; a long poll holds its thread for
up to 60 s), at most `max_connections` of them, with deadlines per phase (`_connections`).
Clients should set botocore's ``read_timeout`` above 70 s, since boto3's default (60 s)
equals SWF's long-poll time.
"""

from __future__ import annotations

import errno
import http.client
import io
import logging
import re
import signal
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any, Self

from .._errors import EngineError
from ._auth import ENVIRONMENT, Environment, client_exports, is_loopback, server_credentials
from ._connections import Connections, DeadlineReader, Phase, Timeouts, default_max_connections
from ._engine import DEFAULT_REGION, Engine
from ._faults import SWFFault
from ._protocol import CONTENT_TYPE, SupportsCall, SWFProtocol, error_body, status_of
from ._sigv4 import Credentials, CredentialSource, Verifier, by_name, scope_region

__all__ = ["ENVIRONMENT", "EngineServer", "MAX_BODY", "MAX_HEAD", "MAX_REQUEST_LINE", "serve"]

logger = logging.getLogger("pipeflow.engine.http")
# Connection-level events (timeouts, evictions) apart from the one line per request.
conn_logger = logging.getLogger("pipeflow.engine.connections")

MAX_REQUEST_LINE = 8 * 1024
MAX_HEAD = 64 * 1024  # request line and headers together
MAX_BODY = 1024 * 1024 + 64 * 1024  # SWF refuses requests over 1 MB; room for JSON's escapes
_CHUNK = 64 * 1024
_DIGITS = re.compile(r"[0-9]{1,19}")


Auth = Credentials | CredentialSource | None


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
        self.rfile.close()  # the plain reader: replaced by one that keeps each phase's deadline
        self.reader = DeadlineReader(self.connection)
        self.buffered = io.BufferedReader(self.reader)
        self.rfile = self.buffered
        self.served = False

    def finish(self) -> None:
        self.server.connections.leave(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def handle_one_request(self) -> None:
        timeouts = self.server.timeouts
        # A kept-alive connection may wait `idle` for its next request; a new one must speak within `head`.
        self.reader.start(timeouts.idle if self.served else timeouts.head, MAX_HEAD)
        self.served = True
        try:
            if not self.buffered.peek(1):
                self.close_connection = True
                return
            self.reader.deadline = time.monotonic() + timeouts.head
            self.raw_requestline = self.rfile.readline(MAX_REQUEST_LINE + 1)
            if len(self.raw_requestline) > MAX_REQUEST_LINE:
                self.requestline = self.request_version = self.command = ""
                self.send_error(414)
                return
            if not self.parse_request():
                return
            self.reader.budget = None
            method = getattr(self, f"do_{self.command}", None)
            if method is None:
                self.send_error(501)
                return
            method()
        except http.client.LineTooLong as exc:  # the request line alone used up the head's budget
            self.send_error(431, "Line too long", str(exc))
        except TimeoutError:
            conn_logger.debug("closed %s: it took too long to send its request", self.client_address)
            self.close_connection = True
        except OSError:  # reset, or shut down to make room or to stop
            self.close_connection = True

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        started = time.perf_counter()
        target = self.headers.get("X-Amz-Target", "")
        operation = self.server.protocol.operation(target)
        try:
            body, region = self._body()
        except SWFFault as fault:  # refused before the engine: the rest of the request may be unread
            status, answer = status_of(fault.code), error_body(fault.code, fault.message)
            self.close_connection = True
        except OSError:
            raise  # the connection is gone: nothing to answer
        except Exception:  # a bug of ours, not the client's: a JSON 500 and the traceback in the log
            logger.exception("checking a %s request failed", operation or "unknown")
            status, answer = 500, error_body("InternalFailure", "the server failed; see its log")
            self.close_connection = True
        else:
            status, answer = self.server.protocol.handle(operation, target, body, region)
        if self.server.closing:
            self.close_connection = True
        # logged before the answer goes out, so the line exists once a client has its answer
        logger.debug("%s %d %.1fms", operation or "unknown", status, (time.perf_counter() - started) * 1000)
        self._reply(status, answer)
        self.server.connections.enter(self.connection, Phase.IDLE)

    def _body(self) -> tuple[bytes, str | None]:
        """The request's body, once its signature (if required), framing and size pass; and its region."""
        verifier = self.server.verifier
        # raw_items: the values as parsed, without the email package's per-access sanitising
        received = by_name(self.headers.raw_items()) if verifier is not None else {}
        # Headers first: without the server's key id and a fresh date, nothing more is read.
        signed = verifier.authorize(received) if verifier is not None else None
        if "Transfer-Encoding" in self.headers:
            raise SWFFault("SerializationException", "Transfer-Encoding is not supported: send a Content-Length")
        lengths = self.headers.get_all("Content-Length") or []
        if len(lengths) != 1 or not _DIGITS.fullmatch(lengths[0].strip()):
            raise SWFFault("SerializationException", "a request needs one Content-Length, a number of bytes")
        length = int(lengths[0])
        if length > MAX_BODY:
            raise SWFFault("ValidationException", f"the request body of {length:,} bytes is over the limit "
                                                  f"of {MAX_BODY:,} bytes")
        if not self.server.connections.enter(self.connection, Phase.BUSY):
            raise ConnectionAbortedError("evicted to make room")  # its socket is shut down: nothing to answer
        self.reader.start(self.server.timeouts.body)
        body = bytearray()
        while len(body) < length:
            chunk = self.rfile.read(min(_CHUNK, length - len(body)))
            if not chunk:
                raise ConnectionResetError("the client closed the connection inside a request body")
            body += chunk
        if verifier is not None and signed is not None:
            verifier.verify(signed, self.command, self.path, received, bytes(body))
            return bytes(body), signed.region
        return bytes(body), scope_region(self.headers.get("Authorization", ""))

    def do_GET(self) -> None:  # noqa: N802
        self.close_connection = True
        self._reply(404, error_body("UnknownOperationException", "SWF's protocol uses POST /"))

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals, answered as SWF's: a JSON error, never an HTML page."""
        if code == 414:
            fault = "SerializationException", f"the request line is longer than {MAX_REQUEST_LINE:,} bytes"
        elif code == 431:
            fault = ("SerializationException",
                     f"the request headers are over the limit of {MAX_HEAD:,} bytes and 100 headers "
                     f"({explain or message})")
        elif code == 501:
            fault = "UnknownOperationException", f"SWF's protocol uses POST /, not {self.command[:20]}"
        else:
            fault = "SerializationException", f"malformed HTTP request: {message or code}"
        conn_logger.debug("refused a request from %s: %s", self.client_address, fault[1])
        self.close_connection = True
        self._reply(400, error_body(*fault))

    def _reply(self, status: int, body: bytes) -> None:
        head = (
            f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}\r\n"
            f"Content-Type: {CONTENT_TYPE}\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"x-amzn-RequestId: {uuid.uuid4()}\r\n"
            f"{'Connection: close' + chr(13) + chr(10) if self.close_connection else ''}"
            "\r\n"
        ).encode("latin-1")
        # One write: headers and body in a single segment; bounded, for a client that does not read.
        try:
            self.connection.settimeout(self.server.timeouts.write)
            self.wfile.write(head + body)
        except OSError:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        # http.server writes to stderr; do_POST logs one line per request instead.
        conn_logger.debug(format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # server_close() must not wait for handlers: one may sit in a 60 s long poll
    # that only closing the engine (after stop) ends.
    block_on_close = False
    # a burst of connections waits in the kernel's queue rather than being refused
    request_queue_size = 1024

    def __init__(
        self,
        address: tuple[str, int],
        protocol: SWFProtocol,
        verifier: Verifier | None,
        max_connections: int,
        timeouts: Timeouts,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.protocol = protocol
        self.verifier = verifier
        self.timeouts = timeouts
        self.closing = False
        self.connections = Connections(max_connections)
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        try:
            return super().get_request()
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                # out of descriptors: the listener stays readable, so pause rather than spin
                conn_logger.warning("cannot accept a connection: %s", exc.strerror)
                time.sleep(0.05)
            raise

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.connections.admit(request):
            conn_logger.warning("refused a connection from %s: all %d connections are inside requests",
                                client_address, self.connections.cap)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except RuntimeError:  # no thread to be had
            self.connections.leave(request)
            self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver prints a traceback to stderr; a client's misbehaviour is not the server's error
        conn_logger.debug("connection from %s failed", client_address, exc_info=True)


class EngineServer:
    """An engine served over HTTP from a background thread; binds when constructed.

    `auth`: the credentials requests must be signed with (a `Credentials`, or botocore's,
    re-read per request), or None to accept any request, which only a loopback `host`
    allows. In-process servers (tests, notebooks) default to None; `serve` and
    `pipeflow server` default to the environment's credentials.
    """

    def __init__(
        self,
        engine: SupportsCall,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        auth: Auth = None,
        max_connections: int | None = None,
        timeouts: Timeouts = Timeouts(),
    ) -> None:
        if auth is None and not is_loopback(host):
            raise EngineError(f"refusing to serve on {host} without authentication: only loopback hosts may")
        verifier = Verifier(auth) if auth is not None else None
        cap = max_connections if max_connections is not None else default_max_connections()
        self._httpd = _Server((host, port), SWFProtocol(engine), verifier, cap, timeouts)
        self._thread: threading.Thread | None = None
        bound_host, bound_port = str(self._httpd.server_address[0]), int(self._httpd.server_address[1])
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.url = f"http://{shown}:{bound_port}"
        self.authenticated = verifier is not None

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
        self._httpd.connections.drop(idle_only=True)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop accepting, give requests under way `timeout` seconds, then close every connection.

        The engine stays open: its owner closes it (between `stop_accepting` and
        `stop`, so that long polls under way get their empty answer).
        """
        self.stop_accepting()
        self._httpd.connections.wait_idle(timeout)
        self._httpd.connections.drop(idle_only=False)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve(
    host: str = "127.0.0.1",
    port: int = 5005,
    db: str | None = None,
    poll_timeout: float = 60.0,
    *,
    auth: Auth | Environment = ENVIRONMENT,
    recover: bool = False,
    region: str = DEFAULT_REGION,
    sync: str = "full",
) -> None:
    """Serve a new engine until SIGTERM or SIGINT, then close it so its state is consistent.

    `poll_timeout`: seconds a long poll waits for a task (SWF's 60 unless a test wants less).
    `auth`: whose signatures are accepted: by default the credentials of boto3's chain here
    (or a generated pair, see `server_credentials`); None: none checked (loopback only).
    `recover`: set a damaged `db` aside first and start from what verifies (reported on stderr).
    `region`: what ARNs name for a request whose signature does not say its region.
    `sync`: "full" (an acknowledged call survives a crash of the machine) or "normal" (a
    killed server; faster on slow disks), see `Engine`.
    """
    if auth is None and not is_loopback(host):
        raise EngineError(f"refusing to serve on {host} without authentication: only loopback hosts may")
    if isinstance(auth, Environment):
        auth = server_credentials(db)
    engine = Engine(db=db, poll_timeout=poll_timeout, recover=recover, region=region, sync=sync)
    if engine.recovery is not None:
        print(engine.recovery, file=sys.stderr, flush=True)
    try:
        server = EngineServer(engine, host, port, auth=auth)
    except OSError as exc:
        engine.close()
        raise EngineError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.start()
        checked = "SigV4-signed requests only" if server.authenticated else "no authentication (--no-auth)"
        print(client_exports(server.url), file=sys.stderr, flush=True)
        print(f"pipeflow server listening on {server.url} ({checked})", file=sys.stderr, flush=True)
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
