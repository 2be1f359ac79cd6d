"""Put on PYTHONPATH by tests/deploy/test_iam_policies.py: every AWS call this process makes is written down.

With PIPEFLOW_TEST_AWS_CALLS=FILE, each botocore client any code builds (pipeflow's SWF
clients, the S3 store's client in `converters`, a worker's child processes) gets a
`before-call` handler on its own event system, which appends one line per API call to FILE:
`call swf:PollForDecisionTask`, and for each decision an answer carries (decisions are IAM
actions too) `decision swf:ScheduleActivityTask`. The event fires once per call with the
caller's parameters, not per retry, and also for calls the server then refuses, so a call
moto cannot serve is still seen. A StartWorkflowExecution that gives the run a Lambda role
(`lambdaRole`) is also `call iam:PassRole`: AWS checks that permission on the caller.

A sitecustomize rather than a hook in `pipeflow.endpoint`: clients are built in two packages
(the S3 store in `converters` may not import pipeflow) and in child processes; patching
botocore's one client factory here sees them all, and the product carries no test knob.
"""

from __future__ import annotations

import os
from typing import Any

_PATH = os.environ.get("PIPEFLOW_TEST_AWS_CALLS")


def _write(lines: list[str]) -> None:
    assert _PATH is not None
    fd = os.open(_PATH, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, "".join(f"{line}\n" for line in lines).encode())  # one write: lines of processes never mix
    finally:
        os.close(fd)


def _record(model: Any, params: Any = None, **_: Any) -> None:
    prefix = model.service_model.signing_name or model.service_model.endpoint_prefix
    lines = [f"call {prefix}:{model.name}"]
    if model.name == "StartWorkflowExecution" and isinstance(params, dict) and params.get("lambdaRole"):
        lines.append("call iam:PassRole")  # AWS checks it on the caller for the role the run is given
    if model.name == "RespondDecisionTaskCompleted" and isinstance(params, dict):
        lines += [f"decision {prefix}:{d.get('decisionType')}" for d in params.get("decisions") or ()]
    _write(lines)


def _install() -> None:
    import botocore.session

    create = botocore.session.Session.create_client

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = create(self, *args, **kwargs)
        client.meta.events.register("before-parameter-build", _record)
        return client

    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]


if _PATH:
    _install()
