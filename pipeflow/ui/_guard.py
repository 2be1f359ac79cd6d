"""Who may use the console: loopback by default, a token for any other interface, CSRF on every form.

- `Guard.token`: None on loopback; else every request shows it once (`?token=`, then a cookie,
  or `Authorization: Bearer`), compared in constant time.
- The Host header must name the address served (or `localhost`): a page of another site that
  rebinds its name to 127.0.0.1 gets nothing.
- A POST carries the per-process CSRF secret in its form (`csrf`), which only pages served here
  contain, and an Origin, when the browser sends one, of this console.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import dataclass, field

COOKIE = "pipeflow_ui_token"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class Guard:
    """The console's secrets and the checks of each request."""

    host: str
    port: int
    token: str | None = None
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @classmethod
    def for_host(cls, host: str, port: int, token: str | None) -> Guard:
        """A token is required off loopback: the one given, else a new one (printed by `pipeflow ui`)."""
        if token is None and not is_loopback(host):
            token = secrets.token_urlsafe(24)
        return cls(host=host, port=port, token=token)

    def host_allowed(self, header: str | None) -> bool:
        if not is_loopback(self.host) and self.host not in ("0.0.0.0", "::"):
            names = {self.host}
        elif not is_loopback(self.host):
            return True  # every interface: the token guards it
        else:
            names = {self.host, "localhost", "127.0.0.1", "[::1]"}
        if not header:
            return False
        name, _, port = header.rpartition(":") if not header.endswith("]") else (header, "", "")
        if not name:
            name, port = header, ""
        return name in names and port in ("", str(self.port))

    def token_ok(self, given: str | None) -> bool:
        return self.token is None or (given is not None and hmac.compare_digest(given.encode(), self.token.encode()))

    def csrf_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.csrf.encode())

    def origin_ok(self, origin: str | None, host_header: str | None) -> bool:
        if not origin:
            return True  # not sent (older browsers, curl): the CSRF secret decides
        return origin.split("://", 1)[-1] == (host_header or "")
