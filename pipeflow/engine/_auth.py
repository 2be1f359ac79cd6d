"""Whose requests `pipeflow server` accepts: the starting user's AWS credentials, or a generated key pair."""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import stat
import sys
from pathlib import Path
from typing import Final, TextIO

from .._errors import EngineError
from ._sigv4 import Credentials, CredentialSource

__all__ = ["ENVIRONMENT", "KEY_FILE", "Environment", "is_loopback", "key_file", "server_credentials"]


class Environment:
    """The credentials of boto3's chain where the server starts (a generated pair when there are none)."""

    def __repr__(self) -> str:
        return "ENVIRONMENT"


ENVIRONMENT: Final = Environment()

KEY_FILE = "server-credentials"
_KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # an AWS-looking key id: upper case and digits


def is_loopback(host: str) -> bool:
    """True when every address `host` names is a loopback one (127.0.0.0/8, ::1)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    if not host:
        return False  # "" binds every interface
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)


def key_file(db: str | os.PathLike[str] | None) -> Path:
    """Where a generated key pair lives: beside the --db file, or in ./.pipeflow/ when the state is in memory."""
    folder = Path(db).parent if db is not None else Path(".pipeflow")
    return folder / KEY_FILE


def client_exports(url: str) -> str:
    """The `export` lines that point a client (pipeflow --backend swf, boto3) at this server."""
    import boto3

    lines = [f"pipeflow server: clients use it with\nexport AWS_ENDPOINT_URL_SWF={url}"]
    if not boto3.Session().region_name:  # boto3 clients need one; any will do for this server
        lines.append("export AWS_DEFAULT_REGION=us-east-1")
    return "\n".join(lines)


def server_credentials(
    db: str | os.PathLike[str] | None, stderr: TextIO = sys.stderr
) -> Credentials | CredentialSource:
    """The credentials of boto3's chain in this environment; when there are none, a generated pair.

    A generated pair is kept (0600) in `key_file(db)` and reused by the next start; its two
    `export` lines go to `stderr`, the one place the secret is ever printed.
    """
    import boto3

    found: CredentialSource | None = boto3.Session().get_credentials()
    if found is not None:
        return found  # botocore's object: read again per request, so refreshed credentials keep working
    path = key_file(db)
    credentials = _read_key_file(path) or _write_key_file(path)
    print(
        f"pipeflow server: no AWS credentials in this environment; clients must sign with the key pair "
        f"kept in {path} (`. {path}` sets it):\n"
        f"export AWS_ACCESS_KEY_ID={credentials.access_key}\n"
        f"export AWS_SECRET_ACCESS_KEY={credentials.secret_key}",
        file=stderr,
        flush=True,
    )
    return credentials


def _read_key_file(path: Path) -> Credentials | None:
    """The pair in `path`, or None when there is no such file; refuses one that others could read or swap."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise EngineError(f"cannot read the server's key file {path}: {exc.strerror or exc}") from exc
    with os.fdopen(fd, encoding="utf-8") as fh:
        info = os.fstat(fh.fileno())
        if info.st_uid != os.getuid() or info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise EngineError(f"the server's key file {path} is not private to this user (mode "
                              f"{stat.S_IMODE(info.st_mode):o}); remove it and start again for a new pair")
        values: dict[str, str] = {}
        for line in fh.read(4096).splitlines():
            name, sep, value = line.removeprefix("export ").partition("=")
            if sep:
                values[name.strip()] = value.strip()
    if not values.get("AWS_ACCESS_KEY_ID") or not values.get("AWS_SECRET_ACCESS_KEY"):
        raise EngineError(f"the server's key file {path} has no AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; "
                          "remove it and start again for a new pair")
    return Credentials(values["AWS_ACCESS_KEY_ID"], values["AWS_SECRET_ACCESS_KEY"])


def _write_key_file(path: Path) -> Credentials:
    credentials = Credentials(
        "PFLW" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16)), secrets.token_urlsafe(30)
    )
    text = (
        "# pipeflow server key pair, generated because no AWS credentials were found; "
        "clients sign with it: . this-file\n"
        f"export AWS_ACCESS_KEY_ID={credentials.access_key}\n"
        f"export AWS_SECRET_ACCESS_KEY={credentials.secret_key}\n"
    )
    try:
        if not path.parent.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # O_EXCL and O_NOFOLLOW: never through a planted file or link; 0600 whatever the umask
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise EngineError(f"cannot write the server's key file {path}: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(text)
    return credentials
