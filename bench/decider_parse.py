"""A decision task's history page of 1,000 events: botocore's parser against `pipeflow.endpoint.fast_parse`.

Two pages of 1,000 events (SWF's largest), as JSON bodies:
- "pipeline": the recorded chain_group history (tests/histories) repeated, the events a
  decider of activities sees (decision and activity task events, short inputs and results);
- "every type": events cycling through all 54 event types of SWF's model, every member set
  (tests/_support/pages.py).

For each: CPU time (`time.thread_time`) of the parse alone (botocore's JSON parser vs
`json.loads` + timestamps), and of a whole `poll_for_decision_task` call through a botocore
client whose HTTP answer is canned (serialize, sign, parse: what the decider's thread spends
on a decision task besides deciding and responding). Medians of --repeat runs.

Run: `.venv/bin/python bench/decider_parse.py [--repeat 30]`
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# bench/converters.py would shadow the converters package when this file runs as a script.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

EVENTS = 1000


def pipeline_events() -> list[dict[str, Any]]:
    from tests._support.pages import recorded_events

    template = recorded_events()["chain_group"]
    return [{**template[n % len(template)], "eventId": n + 1,
             "eventTimestamp": template[0]["eventTimestamp"] + 0.137 * n} for n in range(EVENTS)]


def cpu_ms(fn: Callable[[], Any], repeat: int) -> float:
    """Median CPU milliseconds of `fn()` on this thread."""
    fn()  # warm: compiled converters, imports, connection-free client caches
    times = []
    for _ in range(repeat):
        started = time.thread_time()
        fn()
        times.append(time.thread_time() - started)
    return statistics.median(times) * 1000


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def canned_client(body: bytes, fast: bool) -> Any:
    """A botocore SWF client whose every HTTP answer is `body` (200, application/x-amz-json-1.0)."""
    import botocore.session
    from botocore.awsrequest import AWSResponse, HeadersDict

    from pipeflow.endpoint import fast_parse

    swf = botocore.session.get_session().create_client(
        "swf", region_name="us-east-1", endpoint_url="http://127.0.0.1:9", aws_access_key_id="a",
        aws_secret_access_key="b")

    def send(request: Any, **_: Any) -> Any:
        return AWSResponse(request.url, 200, HeadersDict({"x-amzn-RequestId": "r", "Content-Type":
                                                          "application/x-amz-json-1.0"}), _Raw(body))

    swf.meta.events.register("before-send.swf", send)
    if fast and not fast_parse(swf):
        raise RuntimeError("fast_parse declined a botocore SWF client")
    return swf


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="runs per figure (the median is printed)")
    args = parser.parse_args()

    from botocore.awsrequest import HeadersDict
    from botocore.parsers import create_parser

    from pipeflow.endpoint._fast import compile_output, parse_body
    from tests._support.pages import decision_task, swf_model, synthetic_events

    operation = swf_model().operation_model("PollForDecisionTask")
    convert = compile_output(operation)
    botocore_parser = create_parser("json")
    print(f"history page of {EVENTS} events; CPU ms per page, median of {args.repeat}; "
          "decision task = poll_for_decision_task through a botocore client, HTTP answer canned", flush=True)
    for name, events in (("pipeline", pipeline_events()), ("every type", synthetic_events(EVENTS))):
        body = json.dumps(decision_task(events, next_page=False)).encode()

        def answer() -> dict[str, Any]:
            return {"status_code": 200, "body": body,
                    "headers": HeadersDict({"x-amzn-requestid": "r", "Content-Type": "application/x-amz-json-1.0"})}

        slow = cpu_ms(lambda: botocore_parser.parse(answer(), operation.output_shape), args.repeat)
        quick = cpu_ms(lambda: parse_body(answer(), convert), args.repeat)
        plain_client, fast_client = canned_client(body, fast=False), canned_client(body, fast=True)
        params = {"domain": "d", "taskList": {"name": "t"}}
        task_slow = cpu_ms(lambda: plain_client.poll_for_decision_task(**params), args.repeat)
        task_quick = cpu_ms(lambda: fast_client.poll_for_decision_task(**params), args.repeat)
        print(f"{name} ({len(body) // 1024} KiB): parse botocore {slow:.1f} ms, fast {quick:.1f} ms "
              f"({slow / quick:.1f}x); decision task poll botocore {task_slow:.1f} ms, fast {task_quick:.1f} ms "
              f"({task_slow / task_quick:.1f}x)", flush=True)


if __name__ == "__main__":
    main()
