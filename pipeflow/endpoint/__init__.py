"""Reaching an SWF endpoint: boto3 clients configured once, botocore's errors read and translated, outages ridden out.

The one place that knows botocore; the decider and worker loops, the runners and the clients call it.
"""

from ._aws import (
    READ_TIMEOUT,
    client_config,
    error_code,
    is_gone,
    is_transient,
    loop_client,
    raise_engine_error,
    s3_client,
    service_errors,
    swf_client,
)
from ._fast import fast_parse
from ._polling import DECIDER_IDLE_MAX, MAX_HOLD, WORKER_IDLE_MAX, IdlePace, Outage, PollSpacer

__all__ = [
    "DECIDER_IDLE_MAX",
    "MAX_HOLD",
    "WORKER_IDLE_MAX",
    "IdlePace",
    "READ_TIMEOUT",
    "Outage",
    "PollSpacer",
    "client_config",
    "error_code",
    "fast_parse",
    "is_gone",
    "is_transient",
    "loop_client",
    "raise_engine_error",
    "s3_client",
    "service_errors",
    "swf_client",
]
