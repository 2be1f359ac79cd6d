"""S3Store against a moto server on loopback: real HTTP through smart_open and boto3."""

from __future__ import annotations

import os

import boto3
import pandas as pd
import pytest

import converters
from converters import Reference, S3Store

# These talk to the moto server process that the session fixture starts.
pytestmark = pytest.mark.slow

BIG = {"rows": [{"id": i, "name": f"n{i}"} for i in range(5_000)]}


@pytest.fixture()
def bucket(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_url)
    boto3.client("s3", endpoint_url=moto_url).create_bucket(Bucket="payloads")
    return "payloads"


def test_s3_round_trip_through_moto(bucket: str, moto_url: str) -> None:
    ref = converters.dumps(BIG, store=f"s3://{bucket}/pre/fix")
    parsed = Reference.parse(ref)
    assert parsed.uri == f"s3://{bucket}/pre/fix/{parsed.sha256}"
    body = boto3.client("s3", endpoint_url=moto_url).get_object(Bucket=bucket, Key=f"pre/fix/{parsed.sha256}")["Body"].read()
    assert len(body) == parsed.size and body.startswith(b'{"rows":')
    assert converters.loads(ref, store=f"s3://{bucket}/pre") == BIG


def test_s3_scoped_store_and_dataframe_multipart(bucket: str, moto_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from converters import _s3, _store

    monkeypatch.setattr(_s3, "CHUNK", 5 * 1024 * 1024)  # S3's smallest part, to exercise multipart
    monkeypatch.setattr(_store, "CHUNK", 5 * 1024 * 1024)
    store = S3Store(f"s3://{bucket}/root", endpoint_url=moto_url).child("wf-1", "run-1")
    df = pd.DataFrame({"x": range(1_500_000), "y": [1.5] * 1_500_000})
    ref = converters.dumps(df, store=store)
    parsed = Reference.parse(ref)
    assert parsed.size > 5 * 1024 * 1024 and parsed.uri.startswith(f"s3://{bucket}/root/wf-1/run-1/")
    pd.testing.assert_frame_equal(converters.loads(ref, store=store), df)


def test_tampered_s3_object_is_refused(bucket: str, moto_url: str) -> None:
    ref = converters.dumps(BIG, store=f"s3://{bucket}")
    parsed = Reference.parse(ref)
    client = boto3.client("s3", endpoint_url=moto_url)
    body = client.get_object(Bucket=bucket, Key=parsed.sha256)["Body"].read()
    client.put_object(Bucket=bucket, Key=parsed.sha256, Body=body.replace(b"n1", b"n9", 1))
    with pytest.raises(converters.IntegrityError, match=r"does not match its reference"):
        converters.loads(ref, store=f"s3://{bucket}")


def test_missing_bucket_and_object_are_store_errors(bucket: str, moto_url: str) -> None:
    with pytest.raises(converters.StoreError, match=r"cannot write s3://no-such-bucket/"):
        converters.dumps(BIG, store="s3://no-such-bucket")
    ref = converters.dumps(BIG, store=f"s3://{bucket}")
    boto3.client("s3", endpoint_url=moto_url).delete_object(Bucket=bucket, Key=Reference.parse(ref).sha256)
    with pytest.raises(converters.StoreError, match=r"cannot read s3://payloads/"):
        converters.loads(ref, store=f"s3://{bucket}")


def test_s3_client_is_built_with_the_store_not_at_import(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_url)
    store = S3Store("s3://b/p")
    assert store.client.meta.endpoint_url == moto_url
    assert (store.bucket, store.prefix, store.uri) == ("b", "p", "s3://b/p")
    assert os.environ["AWS_ENDPOINT_URL_S3"] == moto_url


def test_invalid_s3_uri() -> None:
    with pytest.raises(converters.StoreError, match=r"expected s3://bucket/prefix"):
        S3Store("s3:///nobucket")
