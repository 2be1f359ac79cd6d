"""The boto3 clients of a process: SWF and S3, configured once, the standard way.

Region, credentials, profiles and endpoints come from boto3's usual chain
(`AWS_REGION` / `AWS_DEFAULT_REGION`, `AWS_PROFILE`, `AWS_ENDPOINT_URL_SWF`,
`AWS_ENDPOINT_URL_S3`, ~/.aws/config); explicit arguments win over it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

__all__ = [
    "READ_TIMEOUT", "client_config", "error_code", "is_gone", "is_transient", "loop_client",
    "raise_engine_error", "s3_client", "service_errors", "swf_client",
]

# SWF holds a long poll up to 60 s; botocore's default read timeout is exactly 60 s,
# which would turn every empty poll into a timeout error and a retry.
READ_TIMEOUT = 75
CONNECT_TIMEOUT = 10
# Calls in all, the first included; adaptive mode adds client-side rate limiting to the
# exponential backoff with jitter, so ThrottlingException slows the process down instead of failing it.
MAX_ATTEMPTS = 10
_DEPRECATED = ("TypeDeprecatedFault", "DomainDeprecatedFault")
DEFAULT_REGION = "us-east-1"  # SWF needs a region; the test servers ignore it
# Calls in all for the long-running loops (`pipeflow worker`/`decider`): they retry transient errors
# themselves, forever and stop-aware; botocore's own ten attempts would hold one call ~15 s against
# an engine that is down, delaying both a stop and the first call after it is back.
LOOP_ATTEMPTS = 2

# SWF fault codes that say "later", not "never": throttling and the service's own trouble.
TRANSIENT_CODES = frozenset({
    "ThrottlingException", "Throttling", "ThrottledException", "RequestLimitExceeded", "TooManyRequestsException",
    "ServiceUnavailable", "ServiceUnavailableException", "InternalFailure", "InternalServerError",
    "InternalError", "RequestTimeout", "RequestTimeoutException",
})

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


def loop_client(swf: Any) -> Any:
    """The client a long-running loop should use for `swf`: one with LOOP_ATTEMPTS when `swf` is ours, else `swf`."""
    with _lock:
        key = next((k for k, client in _clients.items() if client is swf), None)
    if key is None or key[4] == LOOP_ATTEMPTS:  # the embedded engine's client, a test's client, or already one
        return swf
    service, endpoint_url, region, profile = key[:4]
    return _client(service, endpoint_url, region, profile, LOOP_ATTEMPTS)


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
            session = _session(boto3, profile, region)
            if service == "swf" and session.get_credentials() is None:
                from ..config import SettingsError

                where = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_SWF") or os.environ.get("AWS_ENDPOINT_URL")
                raise SettingsError(
                    f"no AWS credentials to sign requests to {'SWF at ' + where if where else 'Amazon SWF'}: "
                    "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (for a `pipeflow server`, the lines it "
                    "printed), or set AWS_PROFILE"
                )
            client = session.client(
                service,
                endpoint_url=endpoint_url or None,  # None: AWS_ENDPOINT_URL_<SERVICE> or the config file decide
                region_name=session.region_name or DEFAULT_REGION,
                config=client_config(max_attempts=max_attempts),
            )
            _clients[key] = client
        return client


def _session(boto3: Any, profile: str | None, region: str | None) -> Any:
    """A boto3 Session; a profile that does not exist is a settings error naming it."""
    from botocore.exceptions import ProfileNotFound

    try:
        return boto3.session.Session(profile_name=profile, region_name=region or os.environ.get("AWS_REGION") or None)
    except ProfileNotFound as exc:
        from ..config import SettingsError

        raise SettingsError(f"{exc}: set AWS_PROFILE (or profile in [tool.pipeflow]) to a profile of "
                            "~/.aws/config, or unset it") from None


def error_code(exc: BaseException) -> str | None:
    """SWF's fault code of a botocore ClientError (or the engine's SWFFault), else None."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) else None


def is_transient(exc: BaseException, *, polling: bool = False) -> bool:
    """True when `exc` says "try again later": no connection, a timeout, 5xx, throttling.

    `polling`: an "Unknown domain" answer to a poll counts too, as the domain may not be
    registered yet (a worker or decider started before the first run). The one place that
    tells the engine's passing trouble from a caller's mistake.
    """
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(exc, (ConnectionError, HTTPClientError, ConnectionResetError, TimeoutError)):
        return True
    code = error_code(exc)
    if code in TRANSIENT_CODES:
        return True
    if polling and code == "UnknownResourceFault" and "unknown domain" in str(exc).lower():
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return isinstance(status, int) and status >= 500
    return False


def is_gone(exc: BaseException) -> bool:
    """True when the engine no longer knows the task a call answers (it timed out, its run closed)."""
    return error_code(exc) == "UnknownResourceFault"


def raise_engine_error(exc: BaseException, what: str) -> NoReturn:
    """Raise `exc` as an error of ours: EngineError keeping SWF's code, `from exc`; ours as they are."""
    from .._errors import EngineError, PipeflowError

    if isinstance(exc, PipeflowError) or not isinstance(exc, Exception):
        raise exc
    raise EngineError(f"{what} failed: {exc}", code=error_code(exc)) from exc


@contextmanager
def service_errors(domain: str) -> Iterator[None]:
    """botocore's errors as pipeflow's: EngineError (exit 4), deprecated types as PipelineError (exit 2)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from .._errors import EngineError, PipelineError

    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        operation = getattr(exc, "operation_name", "a call")
        message = exc.response.get("Error", {}).get("Message") or str(exc)
        if code in _DEPRECATED:
            raise PipelineError(f"SWF refused {operation} in domain {domain!r}: {code}: {message}") from None
        raise EngineError(f"SWF refused {operation} in domain {domain!r}: {code}: {message}", code=code) from None
    except BotoCoreError as exc:
        raise EngineError(f"cannot reach SWF: {exc}") from None
