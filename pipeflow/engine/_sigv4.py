"""SigV4 verification of a received request: botocore's own signer recomputes the signature.

Pure: no sockets, no global clock (a `clock` is passed in), so every refusal is testable
with a request built in memory. Refusals are `SWFFault`s carrying the codes AWS's JSON
services answer with (all HTTP 400, none retried by botocore):

===================================  ===================================================
MissingAuthenticationTokenException  no Authorization header at all
IncompleteSignatureException         an Authorization header missing or garbling a part
UnrecognizedClientException          an access key id (or session token) not the server's
InvalidSignatureException            a wrong signature, a wrong scope, or a date more than
                                     15 minutes off ("Signature expired")
===================================  ===================================================
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any, Protocol

from ._faults import SWFFault

__all__ = ["MAX_SKEW", "Credentials", "CredentialSource", "Signed", "Verifier", "by_name", "scope_region"]

SERVICE = "swf"
ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = 15 * 60  # seconds between the request's X-Amz-Date and the server's clock, as AWS allows
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
# Who (host), when (x-amz-date) and which operation (x-amz-target; SWF's body does not say):
# botocore signs all three, and without them a signature would not bind the request.
_MUST_SIGN = ("host", "x-amz-date", "x-amz-target")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_REGION = re.compile(r"[a-z0-9-]{1,64}")
_SCOPE_REGION = re.compile(r"Credential=[^/,\s]+/[0-9]{8}/([a-z0-9-]{1,64})/")
_DATE = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2})([0-9]{2})([0-9]{2})Z")
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method."
)
_BAD_TOKEN = "The security token included in the request is invalid."
_SIGNERS_KEPT = 16  # (region, credentials) signers cached; more regions than this is someone probing


@dataclass(frozen=True)
class Credentials:
    """An access key pair (and session token) that requests must be signed with."""

    access_key: str
    secret_key: str
    token: str | None = None

    def __repr__(self) -> str:
        # never the secret: these objects end up in logs and tracebacks
        return f"Credentials(access_key={self.access_key!r}, secret_key='***', token={'***' if self.token else None})"


class CredentialSource(Protocol):
    """botocore's credentials (possibly refreshing): read again for every request."""

    def get_frozen_credentials(self) -> Any: ...


@dataclass(frozen=True)
class Signed:
    """The parts of a request's Authorization header that passed every check not needing the body."""

    credentials: Credentials
    region: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str


class Verifier:
    """Checks that requests are signed (SigV4, service `swf`, any region) with one set of credentials."""

    def __init__(
        self,
        credentials: Credentials | CredentialSource,
        *,
        max_skew: float = MAX_SKEW,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._source = credentials
        self._max_skew = max_skew
        self._clock = clock
        self._botocore = _botocore()
        self._signers: dict[tuple[str, Credentials], Any] = {}
        self._requests = threading.local()

    def check(self, method: str, path: str, headers: Iterable[tuple[str, str]], body: bytes) -> None:
        """Raise `SWFFault` unless the request is signed with the server's credentials."""
        received = by_name(headers)
        self.verify(self.authorize(received), method, path, received, body)

    def authorize(self, received: dict[str, list[str]]) -> Signed:
        """Every check that needs only the headers (`by_name`), so a server runs it before reading a body."""
        authorization = _one(received, "authorization")
        if authorization is None:
            raise SWFFault("MissingAuthenticationTokenException", "Missing Authentication Token")
        algorithm, _, rest = authorization.strip().partition(" ")
        if algorithm != ALGORITHM:
            raise SWFFault("IncompleteSignatureException", f"Authorization header requires the {ALGORITHM} algorithm")
        parts = _parts(rest)
        key_id, day, region, signed, problem = _scope(parts["Credential"], parts["SignedHeaders"])
        expected = self._credentials()
        if not hmac.compare_digest(key_id.encode(), expected.access_key.encode()):
            raise SWFFault("UnrecognizedClientException", _BAD_TOKEN)
        token = _one(received, "x-amz-security-token")
        if (token is None) != (expected.token is None) or (
            token is not None and expected.token is not None
            and not hmac.compare_digest(token.encode(), expected.token.encode())
        ):
            raise SWFFault("UnrecognizedClientException", _BAD_TOKEN)
        if problem is not None:
            raise SWFFault(*problem)
        if not _SIGNATURE.fullmatch(parts["Signature"]):
            raise SWFFault("IncompleteSignatureException", "Signature must be 64 lowercase hexadecimal digits.")
        amz_date = _one(received, "x-amz-date") or ""
        self._check_date(amz_date, day)
        return Signed(expected, region, signed, parts["Signature"], amz_date)

    def verify(self, signed: Signed, method: str, path: str, headers: dict[str, list[str]], body: bytes) -> None:
        """Recompute the signature of the request with botocore's signer and compare it."""
        selected: dict[str, list[str]] = {}
        for name in signed.signed_headers:
            values = headers.get(name)
            if not values:
                raise SWFFault("InvalidSignatureException", f"the signed header '{name}' is missing")
            selected[name] = values
        sha = selected.get("x-amz-content-sha256")
        # botocore trusts this header over the body: it must be the body's own hash, not UNSIGNED-PAYLOAD
        if sha is not None and sha != [hashlib.sha256(body).hexdigest()]:
            raise SWFFault("InvalidSignatureException",
                           "The provided 'x-amz-content-sha256' header does not match what was computed.")
        request = self._request()
        request.method, request.url, request.data = method, "http://pipeflow.invalid" + path, body
        request.headers = self._botocore.Headers(selected)
        request.context = {"timestamp": signed.amz_date}
        signer = self._signer(signed.region, signed.credentials)
        try:
            canonical = signer.canonical_request(request)
        except ValueError:  # a path urlsplit refuses
            raise SWFFault("InvalidSignatureException", _MISMATCH) from None
        computed = signer.signature(signer.string_to_sign(request, canonical), request)
        if not hmac.compare_digest(computed.encode(), signed.signature.encode()):
            raise SWFFault("InvalidSignatureException", _MISMATCH)

    def _request(self) -> Any:
        """This thread's botocore request, refilled for each check rather than built anew."""
        request = getattr(self._requests, "request", None)
        if request is None:
            request = self._requests.request = self._botocore.Request()
        return request

    def _credentials(self) -> Credentials:
        source = self._source
        if isinstance(source, Credentials):
            return source
        frozen = source.get_frozen_credentials()
        return Credentials(frozen.access_key, frozen.secret_key, frozen.token or None)

    def _signer(self, region: str, credentials: Credentials) -> Any:
        key = (region, credentials)
        signer = self._signers.get(key)
        if signer is None:
            if len(self._signers) >= _SIGNERS_KEPT:
                self._signers.clear()
            frozen = self._botocore.ReadOnlyCredentials(credentials.access_key, credentials.secret_key,
                                                        credentials.token)
            signer = self._signers[key] = self._botocore.Signer(frozen, SERVICE, region)
        return signer

    def _check_date(self, amz_date: str, day: str) -> None:
        if not amz_date:
            raise SWFFault("IncompleteSignatureException", "Authorization header requires an 'X-Amz-Date' header.")
        when = _parse_date(amz_date)
        if when is None:
            raise SWFFault("IncompleteSignatureException",
                           f"X-Amz-Date must have the form YYYYMMDD'T'HHMMSS'Z', not {amz_date[:40]!r}")
        if day != amz_date[:8]:
            raise SWFFault("InvalidSignatureException",
                           f"Date in Credential scope does not match YYYYMMDD from X-Amz-Date: '{day}' != "
                           f"'{amz_date[:8]}'.")
        now = self._clock()
        if when < now - self._max_skew:
            raise SWFFault("InvalidSignatureException",
                           f"Signature expired: {amz_date} is now earlier than {_stamp(now - self._max_skew)} "
                           f"({_stamp(now)} - {self._max_skew / 60:g} min.)")
        if when > now + self._max_skew:
            raise SWFFault("InvalidSignatureException",
                           f"Signature not yet current: {amz_date} is still later than "
                           f"{_stamp(now + self._max_skew)} ({_stamp(now)} + {self._max_skew / 60:g} min.)")


def by_name(headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Received headers by lowercase name, repeated ones kept in order."""
    received: dict[str, list[str]] = {}
    for name, value in headers:
        received.setdefault(name.lower(), []).append(value)
    return received


def _one(headers: dict[str, list[str]], name: str) -> str | None:
    values = headers.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise SWFFault("IncompleteSignatureException", f"the request has {len(values)} '{name}' headers")
    return values[0]


def scope_region(authorization: str) -> str | None:
    """The region an Authorization header's credential scope names, unverified (a server without auth)."""
    match = _SCOPE_REGION.search(authorization)
    return match.group(1) if match else None


def _parts(text: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for item in text.split(","):
        name, sep, value = item.strip().partition("=")
        if sep and name in ("Credential", "SignedHeaders", "Signature") and name not in parts:
            parts[name] = value.strip()
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if not parts.get(name)]
    if missing:
        raise SWFFault("IncompleteSignatureException",
                       " ".join(f"Authorization header requires '{name}' parameter." for name in missing))
    return parts


@functools.lru_cache(maxsize=64)
def _scope(credential: str, signed_headers: str) -> tuple[str, str, str, tuple[str, ...], tuple[str, str] | None]:
    """(key id, day, region, signed header names, what is wrong or None): kept, a client repeats them all day."""
    scope = credential.split("/")
    if len(scope) != 5 or not all(scope):
        return credential.partition("/")[0], "", "", (), (
            "IncompleteSignatureException",
            "Credential must have the form <key id>/<YYYYMMDD>/<region>/<service>/aws4_request")
    key_id, day, region, service, terminator = scope
    signed = tuple(signed_headers.split(";"))
    problem: tuple[str, str] | None = None
    if service != SERVICE:
        problem = "InvalidSignatureException", f"Credential should be scoped to correct service: '{SERVICE}'."
    elif terminator != "aws4_request":
        problem = ("InvalidSignatureException",
                   f"Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator[:40]}'.")
    elif not _REGION.fullmatch(region):
        problem = "InvalidSignatureException", "Credential should be scoped to a valid region."
    else:
        for name in _MUST_SIGN:
            if name not in signed:
                problem = "IncompleteSignatureException", f"'{name}' must be a SignedHeader in the Authorization."
                break
    return key_id, day, region, signed, problem


@functools.lru_cache(maxsize=256)
def _parse_date(amz_date: str) -> float | None:
    """Epoch seconds of an X-Amz-Date (kept: a busy second brings the same date many times)."""
    match = _DATE.fullmatch(amz_date)
    if match is None:
        return None
    try:
        year, month, day, hour, minute, second = map(int, match.groups())
        return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


@functools.cache
def _botocore() -> Any:
    """botocore's signer and request, specialised for checking (imported on first use: botocore is heavy)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import ReadOnlyCredentials

    class Request(AWSRequest):  # type: ignore[misc]
        """A received request: its body is the bytes read, not a `prepare()` of them (a copy of every header)."""

        @property
        def body(self) -> bytes:
            return self.data if isinstance(self.data, bytes) else bytes(self.data)

    class Headers(dict[str, list[str]]):
        """The signed headers as received, by lowercase name: what botocore reads of its HTTPHeaders."""

        # botocore's HTTPHeaders is an email.message.Message: building one was half the check's time

        def get_all(self, name: str, failobj: Any = None) -> Any:
            return self.get(name.lower(), failobj)

        def __contains__(self, name: object) -> bool:
            return isinstance(name, str) and super().__contains__(name.lower())

        def __getitem__(self, name: str) -> str:  # type: ignore[override]
            return ",".join(super().__getitem__(name.lower()))

    class Signer(SigV4Auth):  # type: ignore[misc]
        """botocore's SigV4 with the signing key kept per day: four HMACs saved on every request."""

        def __init__(self, credentials: Any, service_name: str, region_name: str) -> None:
            super().__init__(credentials, service_name, region_name)
            self._keys: dict[str, bytes] = {}
            self._paths: dict[str, str] = {}
            self._queries: dict[str, str] = {}

        def _normalize_url_path(self, path: str) -> str:
            # always "/" for SWF: botocore's normalisation, computed once per path
            normalized = self._paths.get(path)
            if normalized is None:
                if len(self._paths) >= 16:
                    self._paths.clear()
                normalized = self._paths[path] = str(super()._normalize_url_path(path))
            return normalized

        def canonical_query_string(self, request: Any) -> str:
            # empty for SWF: botocore's canonical form, computed once per URL
            query = self._queries.get(request.url)
            if query is None:
                if len(self._queries) >= 16:
                    self._queries.clear()
                query = self._queries[request.url] = str(super().canonical_query_string(request))
            return query

        def headers_to_sign(self, request: Any) -> Any:
            # exactly the headers the client listed in SignedHeaders (verify selects them), no more, no fewer
            return request.headers

        def signature(self, string_to_sign: str, request: Any) -> str:
            day = request.context["timestamp"][0:8]
            key = self._keys.get(day)
            if key is None:
                if len(self._keys) >= 4:  # yesterday's, today's, tomorrow's: the 15-minute window spans at most two
                    self._keys.clear()
                k_date = self._sign(f"AWS4{self.credentials.secret_key}".encode(), day)
                k_region = self._sign(k_date, self._region_name)
                k_service = self._sign(k_region, self._service_name)
                key = self._keys[day] = self._sign(k_service, "aws4_request")
            return str(self._sign(key, string_to_sign, hex=True))

    return SimpleNamespace(Request=Request, Headers=Headers, Signer=Signer, ReadOnlyCredentials=ReadOnlyCredentials)


def _stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime(_AMZ_DATE)
