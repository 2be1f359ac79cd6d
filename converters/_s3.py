"""`S3Store`: payloads in `s3://bucket/prefix`, through smart_open and a boto3 client.

boto3, botocore and smart_open are imported when a store is constructed, never at
`import converters`; botocore errors become `StoreError` in `_translate` alone.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Any, cast

from ._errors import StoreError
from ._store import CHUNK, ObjectInfo, Store, check_key, check_part, check_prefix, is_key

__all__ = ["S3Store"]

LIST_PAGE = 1000  # keys per ListObjectsV2 page (S3's maximum)
DELETE_BATCH = 1000  # keys per DeleteObjects request (S3's maximum)


def _make_client(endpoint_url: str | None, region: str | None) -> Any:
    import boto3
    from botocore.config import Config

    # endpoint_url=None lets botocore read AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL itself.
    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        config=Config(retries={"mode": "standard", "max_attempts": 3}),
    )


@contextmanager
def _translate(action: str, uri: str) -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise StoreError(f"cannot {action} {uri}: {code or exc}") from exc
    except (BotoCoreError, OSError, ValueError) as exc:
        raise StoreError(f"cannot {action} {uri}: {exc}") from exc


class _Body:
    """A GET's streaming body, closed when done with (a body half read holds its connection)."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def read(self, size: int = -1) -> bytes:
        return self._body.read(None if size < 0 else size)  # type: ignore[no-any-return]

    def __enter__(self) -> _Body:
        return self

    def __exit__(self, *exc: object) -> None:
        self._body.close()


class S3Store(Store):
    """An S3 bucket and prefix; the boto3 client is built here (or given), once per store."""

    def __init__(self, uri: str, *, client: Any = None, endpoint_url: str | None = None, region: str | None = None) -> None:
        parsed = urllib.parse.urlparse(uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise StoreError(f"invalid S3 store URI {uri!r}: expected s3://bucket/prefix")
        self.bucket = parsed.netloc
        self.prefix = "/".join(check_part(p) for p in parsed.path.split("/") if p)
        self.uri = f"s3://{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")
        self.client = client if client is not None else _make_client(endpoint_url, region)

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes | bytearray | memoryview) -> str:
        import smart_open

        uri = self.uri_for(key)
        view = memoryview(data).cast("B")
        params = {"client": self.client, "min_part_size": CHUNK, "multipart_upload": len(view) > CHUNK}
        with _translate("write", uri):
            with smart_open.open(f"s3://{self.bucket}/{self._key(key)}", "wb", compression="disable", transport_params=params) as out:
                for start in range(0, len(view), CHUNK):
                    out.write(view[start : start + CHUNK])
        return uri

    def open(self, key: str) -> IO[bytes]:
        import smart_open

        uri = self.uri_for(key)
        params = {"client": self.client, "buffer_size": CHUNK}
        with _translate("read", uri):
            return smart_open.open(f"s3://{self.bucket}/{self._key(key)}", "rb", compression="disable", transport_params=params)

    def read(self, key: str, size: int) -> memoryview:
        with _translate("read", self.uri_for(key)):
            return super().read(key, size)

    def fetch(self, key: str, size: int, sha256: str) -> memoryview:
        with _translate("read", self.uri_for(key)):
            return super().fetch(key, size, sha256)

    def size(self, key: str) -> int:
        """The object's ContentLength, from a HEAD: a reference's size is checked before any GET."""
        with _translate("read", self.uri_for(key)):
            return int(self.client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"])

    def _stream(self, key: str) -> IO[bytes]:
        # One GET whose body is read a piece at a time (`read` and `fetch` ask for CHUNK at most).
        with _translate("read", self.uri_for(key)):
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        return cast(IO[bytes], _Body(body))

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            # Without s3:ListBucket, S3 answers 403 for a missing key: write it then.
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound", "403", "AccessDenied", "Forbidden"):
                return False
            raise StoreError(f"cannot check {self.uri_for(key)}: {exc}") from exc
        return True

    def child(self, *parts: str) -> S3Store:
        prefix = "/".join([p for p in (self.prefix, *map(check_part, parts)) if p])
        return self._under(S3Store(f"s3://{self.bucket}/{prefix}", client=self.client))

    def walk(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """The objects under the prefix, a ListObjectsV2 page at a time, in key order.

        Keys the store could not have written (an empty, `.` or `..` segment, a trailing
        `/` folder marker) are skipped.
        """
        base = f"{self.prefix}/" if self.prefix else ""
        params = {"Bucket": self.bucket, "Prefix": base + check_prefix(prefix), "MaxKeys": LIST_PAGE}
        while True:
            with _translate("list", self.uri):
                page = self.client.list_objects_v2(**params)
            for item in page.get("Contents", ()):
                key = item["Key"][len(base) :]
                if is_key(key):
                    yield ObjectInfo(key, int(item["Size"]), item["LastModified"].timestamp())
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return
            params["ContinuationToken"] = token

    def delete(self, keys: Iterable[str]) -> int:
        """DeleteObjects in batches; S3 counts a key that was already gone as deleted."""
        removed = 0
        batch: list[str] = []
        for key in keys:
            batch.append(self._key(key))
            if len(batch) == DELETE_BATCH:
                removed += self._delete(batch)
                batch = []
        if batch:
            removed += self._delete(batch)
        return removed

    def _delete(self, batch: list[str]) -> int:
        with _translate("delete from", self.uri):
            answer = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True}
            )
        errors = answer.get("Errors") or []
        if errors:
            first = errors[0]
            raise StoreError(
                f"cannot delete s3://{self.bucket}/{first.get('Key')}: {first.get('Code')} {first.get('Message', '')}".rstrip()
                + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
            )
        return len(batch)
