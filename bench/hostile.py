"""Hostile inputs: what each one does to the process that reads it, and that process's peak memory.

Each library case runs in a fresh Python process that imports what the case needs,
reads its resident size (idle), feeds the hostile input, and reports the outcome (the
error class and message, or "crashed" with the signal) and its peak resident size
(VmHWM). The server cases run against one real `pipeflow server` on loopback, whose
idle and peak sizes are read from /proc. Target: no case above 2x its idle RSS, and
no crash.

Run: `.venv/bin/python bench/hostile.py` (about a minute).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# -- library cases: each is the body of a function run in a fresh interpreter ---------------

_PRELUDE = """
import base64, json, os, sys, tempfile
sys.path.insert(0, {root!r})
def rss(field):
    for line in open('/proc/self/status'):
        if line.startswith(field + ':'):
            return int(line.split()[1])
    return 0
"""

_CHILD = """
{prelude}
{imports}
idle = rss('VmRSS')
try:
{body}
    outcome = 'accepted: ' + repr(result)[:80]
except BaseException as exc:
    outcome = type(exc).__name__ + ': ' + str(exc)[:150]
print(json.dumps({{'outcome': outcome, 'idle': idle, 'peak': rss('VmHWM')}}))
"""

_LYING_REFERENCE = """
d = tempfile.mkdtemp()
data = b'"hello"'
sha = hashlib.sha256(data).hexdigest()
store = converters.open_store(d)
store.put(sha, data)
result = converters.loads(f'ref/1:json/1:%d:{sha}:' + store.uri_for(sha), store=d)
"""

CASES: dict[str, tuple[str, str]] = {
    # case 2: a tuple nested 250 levels deep, as msgpack ext types (used to SIGSEGV)
    "msgpack tuple nested 250 deep (crafted)": (
        "import converters, msgpack",
        """
cur = msgpack.packb([1])
for _ in range(250):
    cur = msgpack.packb([msgpack.ExtType(1, cur)])
result = converters.loads('msgpack/1:' + base64.b64encode(cur).decode())
""",
    ),
    "msgpack tuple nested 250 deep (dumps)": (
        "import converters",
        """
v = ()
for _ in range(250):
    v = (v,)
result = converters.loads(converters.dumps(v, codec='msgpack'))
""",
    ),
    "json nested 100,000 deep": (
        "import converters",
        "result = converters.loads('json/1:' + '[' * 100000 + ']' * 100000)",
    ),
    # case 3: a reference whose declared size is a lie
    **{f"reference declaring {shown} for a 7-byte object": ("import converters, hashlib", _LYING_REFERENCE % size)
       for shown, size in (("3 GB", 3 * 2**30), ("10**15 bytes", 10**15))},
    # case 4: references outside the store
    "reference to /etc/passwd, no store": (
        "import converters",
        "result = converters.loads('ref/1:json/1:7:' + '0' * 64 + ':file:///etc/passwd')",
    ),
    "reference to /etc/passwd, store elsewhere": (
        "import converters",
        "result = converters.loads('ref/1:json/1:7:' + '0' * 64 + ':file:///etc/passwd', store=tempfile.mkdtemp())",
    ),
    "symlink inside the store to /etc/passwd": (
        "import converters",
        """
d = tempfile.mkdtemp()
os.symlink('/etc/passwd', os.path.join(d, '0' * 64))
store = converters.open_store(d)
result = converters.loads('ref/1:json/1:7:' + '0' * 64 + ':' + store.uri_for('0' * 64), store=d)
""",
    ),
    # case 5: a decompression bomb, 1,000,000 rows of one 1,000-character string
    "pandas bomb: 1,000,000 x 1,000-char rows inline": (
        "import converters, io, pandas, pyarrow as pa, pyarrow.parquet as pq",
        """
arr = pa.DictionaryArray.from_arrays(pa.array([0] * 1_000_000, pa.int32()), pa.array(['x' * 1000]))
table = pa.table({'s': arr})
table = table.replace_schema_metadata({b'pipeflow': b'{"kind": "frame"}'})
sink = io.BytesIO()
pq.write_table(table, sink, compression='snappy', store_schema=False)  # read back as plain strings
del table, arr
envelope = 'pandas/1:' + base64.b64encode(sink.getvalue()).decode()
print(f'envelope: {len(envelope):,} characters', file=sys.stderr)
result = converters.loads(envelope)
result = f'{len(result):,} rows'
""",
    ),
}


def run_child(imports: str, body: str) -> dict[str, Any]:
    source = _CHILD.format(
        prelude=_PRELUDE.format(root=str(ROOT)), imports=imports, body=textwrap.indent(body.strip(), "    ")
    )
    proc = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        name = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit {proc.returncode}"
        tail = (proc.stderr.strip().splitlines() or [""])[-1][:150]
        return {"outcome": f"CRASHED ({name}): {tail}", "idle": 0, "peak": 0}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


# -- server cases -----------------------------------------------------------------------------


def _proc_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _raw(port: int, data: bytes, timeout: float = 10.0) -> str:
    """Send raw bytes, return the status line and the start of the body (or what happened)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            return f"connection cut while sending ({type(exc).__name__})"
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except OSError as exc:
            return f"connection cut ({type(exc).__name__})"
    answer = b"".join(chunks).decode("latin-1")
    if not answer:
        return "connection closed, no answer"
    status = answer.split("\r\n", 1)[0]
    body = answer.split("\r\n\r\n", 1)[-1]
    return f"{status} {' '.join(body[:110].split())}"


def _signed(url: str, target: str, body: bytes, secret: str = "testing", when: Any = None,
            length: int | None = None) -> bytes:
    """A raw HTTP request signed with SigV4 (botocore's signer), optionally with a wrong secret or date."""
    import datetime as dt
    from unittest import mock

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method="POST", url=url + "/", data=body, headers={
        "X-Amz-Target": f"SimpleWorkflowService.{target}",
        "Content-Type": "application/x-amz-json-1.0",
    })
    auth = SigV4Auth(Credentials("testing", secret), "swf", "us-east-1")
    with mock.patch("botocore.auth.get_current_datetime", return_value=when or dt.datetime.now(dt.timezone.utc)):
        auth.add_auth(req)
    prepared = req.prepare()
    head = f"POST / HTTP/1.1\r\nHost: {url.split('//', 1)[1]}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in prepared.headers.items() if k.lower() not in ("host", "content-length"))
    head += f"Content-Length: {len(body) if length is None else length}\r\nConnection: close\r\n\r\n"
    return head.encode() + body


def server_cases() -> list[tuple[str, str, int, int]]:
    import datetime as dt

    import boto3
    from botocore.config import Config

    from tests._support.servers import pipeflow_server_process

    rows: list[tuple[str, str, int, int]] = []
    with pipeflow_server_process() as (url, proc):
        port = int(url.rsplit(":", 1)[1])
        client = boto3.client("swf", endpoint_url=url, region_name="us-east-1",
                              config=Config(retries={"total_max_attempts": 1}, read_timeout=10))
        client.register_domain(name="hostile", workflowExecutionRetentionPeriodInDays="1")
        idle = _proc_kb(proc.pid, "VmRSS")

        def row(name: str, outcome: str) -> None:
            rows.append((name, outcome, idle, _proc_kb(proc.pid, "VmHWM")))

        listing = b'{"registrationStatus": "REGISTERED"}'
        unsigned = (f"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: SimpleWorkflowService.ListDomains\r\n"
                    f"Content-Type: application/x-amz-json-1.0\r\nContent-Length: {len(listing)}\r\n"
                    f"Connection: close\r\n\r\n").encode() + listing
        row("unsigned ListDomains", _raw(port, unsigned))
        row("ListDomains signed with a wrong secret", _raw(port, _signed(url, "ListDomains", listing, secret="wrong")))
        stale = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=20)
        row("ListDomains signed 20 minutes ago", _raw(port, _signed(url, "ListDomains", listing, when=stale)))
        deep = b'{"domain": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        row("signed body nested 100,000 deep", _raw(port, _signed(url, "ListDomains", deep)))
        row("request line of 100 KB", _raw(port, b"POST /" + b"a" * 100_000 + b" HTTP/1.1\r\n\r\n"))
        row("header of 100 KB", _raw(port, b"POST / HTTP/1.1\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n"))
        row("1,000 headers", _raw(port, b"POST / HTTP/1.1\r\n" + b"".join(b"X-%d: a\r\n" % i for i in range(1000)) + b"\r\n"))
        row("Content-Length: 10**12, unsigned", _raw(port, b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: "
                                                 b"SimpleWorkflowService.ListDomains\r\nContent-Length: 1000000000000\r\n\r\n{}"))
        row("Content-Length: 10**12, signed", _raw(port, _signed(url, "ListDomains", listing, length=10**12)))

        # case 9: idle sockets; then a well-behaved client must still be answered promptly
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = min(hard, 8192)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
        idle_count = min(4000, want - 200)
        sockets = []
        try:
            for _ in range(idle_count):
                try:
                    sockets.append(socket.create_connection(("127.0.0.1", port), timeout=5))
                except OSError:
                    break
            started = time.perf_counter()
            try:
                client.list_domains(registrationStatus="REGISTERED")
                outcome = f"a signed client answered in {time.perf_counter() - started:.2f}s"
            except Exception as exc:  # the outcome is what we measure
                outcome = f"signed client failed after {time.perf_counter() - started:.1f}s: {type(exc).__name__}"
            row(f"{len(sockets):,} idle sockets", outcome)
        finally:
            for sock in sockets:
                sock.close()
        alive = "server alive" if proc.poll() is None else f"server DIED (exit {proc.returncode})"
        rows.append(("after all server cases", alive, idle, _proc_kb(proc.pid, "VmHWM") if proc.poll() is None else 0))
    return rows


def _wait_peak(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int | None, int]:
    """Reap `proc` with wait4 to read its peak RSS (KB): `(exit code or None if still running at timeout, peak)`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, int(usage.ru_maxrss)
        time.sleep(0.05)
    return None, _proc_kb(proc.pid, "VmHWM")


def pipeline_cases() -> list[tuple[str, str, int, int]]:
    """Cases 6-8 on real processes: a poisoned signal to a waiting `pipeflow run`, a planted store, resume."""
    from tests._support.servers import pipeflow_server
    from tests.e2e import test_hostile_processes as e2e

    rows: list[tuple[str, str, int, int]] = []
    signals = {
        "pipeflow.cancel nested 700 deep (msgpack), then cancel": ("pipeflow.cancel", e2e.deep_msgpack(700)),
        "signal 'go' nested 16,000 deep (JSON)": ("go", "[" * 16_000 + "]" * 16_000),
    }
    with pipeflow_server() as url, tempfile.TemporaryDirectory() as tmp:
        for name, (signal_name, text) in signals.items():
            folder = Path(tmp) / signal_name
            folder.mkdir()
            with e2e.gated_run(url, folder) as (client, domain, execution, proc):
                idle = _proc_kb(proc.pid, "VmRSS")
                started = time.monotonic()
                client.signal_workflow_execution(domain=domain, workflowId=execution["workflowId"],
                                                 runId=execution["runId"], signalName=signal_name, input=text)
                if signal_name == "pipeflow.cancel":
                    client.request_cancel_workflow_execution(domain=domain, workflowId=execution["workflowId"],
                                                             runId=execution["runId"])
                code, peak = _wait_peak(proc, 60)
                lines = [ln for ln in (folder / "run.log").read_text().splitlines() if ln.strip()]
                shown = "WEDGED (still open after 60 s)" if code is None else (
                    f"pipeflow run exit {code} after {time.monotonic() - started:.1f}s: {(lines or [''])[-1][:110]}")
                rows.append(("run: " + name, shown, idle, peak))
    tests = {
        "task input naming a planted store": "tests/e2e/test_hostile_processes.py::"
                                             "test_a_task_input_cannot_make_a_worker_write_elsewhere",
        "resume of a run whose source is hostile": "tests/pipeflow/test_resume.py::"
                                                   "test_resume_never_loads_the_file_a_run_names",
    }
    for name, test in tests.items():
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
        outcome = "refused, nothing written or run (its test passes)" if done.returncode == 0 else \
            "NOT REFUSED: " + (done.stdout.strip().splitlines() or [""])[-1]
        rows.append((name, outcome, 0, 0))
    return rows


def main() -> None:
    from tests._support.servers import TEST_CREDENTIALS

    os.environ.update(TEST_CREDENTIALS)  # what the servers started here accept
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    worst = 0.0
    print(f"{'case':<58} {'idle MB':>8} {'peak MB':>8} {'x idle':>7}  outcome")

    def show(name: str, outcome: str, idle: int, peak: int) -> None:
        nonlocal worst
        ratio = peak / idle if idle else float("inf")
        worst = max(worst, ratio)
        print(f"{name:<58} {idle / 1024:8.1f} {peak / 1024:8.1f} {ratio:7.2f}  {outcome}", flush=True)

    for name, (imports, body) in CASES.items():
        r = run_child(imports, body)
        show(name, r["outcome"], r["idle"], r["peak"])
    for name, outcome, idle, peak in server_cases():
        show("server: " + name, outcome, idle, peak)
    for name, outcome, idle, peak in pipeline_cases():
        if idle:
            show(name, outcome, idle, peak)
        else:  # steering cases: the outcome is what counts, memory is not at stake
            print(f"{name:<58} {'-':>8} {'-':>8} {'-':>7}  {outcome}", flush=True)
    print(f"worst peak / idle: {worst:.2f}x  (target <= 2x, no crash)")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as _tmp:
        main()
