"""The boto3 clients of a process: SWF and S3, configured once, the standard way.

Region, credentials, profiles and endpoints come from boto3's usual chain
(`AWS_REGION` / `AWS_DEFAULT_REGION`, `AWS_PROFILE`, `AWS_ENDPOINT_URL_SWF`,
`AWS_ENDPOINT_URL_S3`, ~/.aws/config); explicit arguments win over it.
"""

from __future__ import annotations

import os
import threading
from typing import Any

__all__ = ["READ_TIMEOUT", "client_config", "error_code", "s3_client", "swf_client"]

# SWF holds a long poll up to 60 s; botocore's default read timeout is exactly 60 s,
# which would turn every empty poll into a timeout error and a retry.
READ_TIMEOUT = 75
CONNECT_TIMEOUT = 10
# Calls in all, the first included; adaptive mode adds client-side rate limiting to the
# exponential backoff with jitter, so ThrottlingException slows the process down instead of failing it.
MAX_ATTEMPTS = 10
DEFAULT_REGION = "us-east-1"  # SWF needs a region; the test servers ignore it

_ENV = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SWF", "AWS_ENDPOINT_URL_S3")
_lock = threading.Lock()
_clients: dict[tuple[Any, ...], Any] = {}


def client_config(*, max_attempts: int = MAX_ATTEMPTS, read_timeout: float = READ_TIMEOUT) -> Any:
    """botocore Config: adaptive retries (ThrottlingException backs off) and a read timeout above the long poll."""
    from botocore.config import Config

    return Config(
        retries={"mode": "adaptive", "total_max_attempts": max_attempts},
        read_timeout=read_timeout,
        connect_timeout=CONNECT_TIMEOUT,
        # pollers, heartbeats and the run's own calls share one client across threads
        max_pool_connections=50,
    )


def swf_client(
    *, endpoint_url: str | None = None, region: str | None = None, profile: str | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> Any:
    """The process's SWF client for these settings (built on first use; boto3 clients are thread-safe)."""
    return _client("swf", endpoint_url, region, profile, max_attempts)


def s3_client(
    *, endpoint_url: str | None = None, region: str | None = None, profile: str | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> Any:
    """The process's S3 client for these settings."""
    return _client("s3", endpoint_url, region, profile, max_attempts)


def _client(service: str, endpoint_url: str | None, region: str | None, profile: str | None, max_attempts: int) -> Any:
    # The environment is part of the key: a test (or a user) that changes it gets a matching client.
    key = (service, endpoint_url, region, profile, max_attempts, os.getpid(), *(os.environ.get(name) for name in _ENV))
    with _lock:
        client = _clients.get(key)
        if client is None:
            import boto3

            # A Session of its own: boto3's default session is not thread-safe to create clients from.
            # botocore reads AWS_DEFAULT_REGION but not AWS_REGION, which the other SDKs (and Lambda) set
            # and which wins over AWS_DEFAULT_REGION there.
            session = boto3.session.Session(profile_name=profile, region_name=region or os.environ.get("AWS_REGION") or None)
            client = session.client(
                service,
                endpoint_url=endpoint_url or None,  # None: AWS_ENDPOINT_URL_<SERVICE> or the config file decide
                region_name=session.region_name or DEFAULT_REGION,
                config=client_config(max_attempts=max_attempts),
            )
            _clients[key] = client
        return client


def error_code(exc: BaseException) -> str | None:
    """SWF's fault code of a botocore ClientError (or the engine's SWFFault), else None."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) else None
