"""TagResource, UntagResource, ListTagsForResource on domains, and tags across a server restart."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests._support.servers import pipeflow_server_process

from .conftest import REGION, Backend, backends, check_output


def _tags(backend: Backend) -> list[dict[str, str]]:
    out = backend.swf.list_tags_for_resource(resourceArn=backend.domain_arn())
    check_output("ListTagsForResource", out)
    return sorted(out["tags"], key=lambda t: t["key"])


@pytest.mark.parametrize("backend", backends(moto="HTTP 500 on a tag without a value"), indirect=True)
def test_register_domain_keeps_tags(backend: Backend) -> None:
    backend.register_domain(tags=[{"key": "team", "value": "data"}, {"key": "empty"}])
    assert _tags(backend) == [{"key": "empty", "value": ""}, {"key": "team", "value": "data"}]


def test_list_tags_none(backend: Backend) -> None:
    backend.register_domain()
    out = backend.swf.list_tags_for_resource(resourceArn=backend.domain_arn())
    assert out["tags"] == []  # SWF sends the empty list


def test_tag_resource(backend: Backend) -> None:
    backend.register_domain(tags=[{"key": "a", "value": "1"}])
    out = backend.swf.tag_resource(resourceArn=backend.domain_arn(), tags=[{"key": "b", "value": "2"}])
    check_output("TagResource", out)
    assert _tags(backend) == [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]


def test_tag_resource_replaces_a_value(backend: Backend) -> None:
    backend.register_domain(tags=[{"key": "a", "value": "1"}])
    backend.swf.tag_resource(resourceArn=backend.domain_arn(), tags=[{"key": "a", "value": "2"}])
    assert _tags(backend) == [{"key": "a", "value": "2"}]


def test_untag_resource(backend: Backend) -> None:
    backend.register_domain(tags=[{"key": "a", "value": "1"}, {"key": "b", "value": "2"}])
    out = backend.swf.untag_resource(resourceArn=backend.domain_arn(), tagKeys=["a", "not-there"])
    check_output("UntagResource", out)
    assert _tags(backend) == [{"key": "b", "value": "2"}]


def test_tags_of_a_deprecated_domain(backend: Backend) -> None:
    backend.register_domain(tags=[{"key": "a", "value": "1"}])
    backend.swf.deprecate_domain(name=backend.domain)
    assert _tags(backend) == [{"key": "a", "value": "1"}]


@pytest.mark.parametrize("call, extra", [
    ("list_tags_for_resource", {}),
    ("tag_resource", {"tags": [{"key": "a", "value": "1"}]}),
    ("untag_resource", {"tagKeys": ["a"]}),
])
@pytest.mark.parametrize("backend", backends(moto="answers for an ARN that names no domain"), indirect=True)
def test_unknown_arn(backend: Backend, call: str, extra: dict[str, Any]) -> None:
    backend.register_domain()
    arn = backend.domain_arn() + "-gone"
    backend.fault("UnknownResourceFault", call, resourceArn=arn, **extra)


@pytest.mark.parametrize("backend", backends(moto="accepts more than 50 tags"), indirect=True)
def test_too_many_tags(backend: Backend) -> None:
    backend.register_domain(tags=[{"key": f"k{i}", "value": "v"} for i in range(50)])
    arn = backend.domain_arn()
    backend.fault("TooManyTagsFault", "tag_resource", resourceArn=arn, tags=[{"key": "one-more", "value": "v"}])
    backend.swf.tag_resource(resourceArn=arn, tags=[{"key": "k0", "value": "new"}])  # a replacement: still 50
    assert len(_tags(backend)) == 50


@pytest.mark.parametrize("backend", backends(moto="accepts more than 50 tags"), indirect=True)
def test_register_domain_too_many_tags(backend: Backend) -> None:
    backend.fault("TooManyTagsFault", "register_domain", name=backend.domain,
                  workflowExecutionRetentionPeriodInDays="1",
                  tags=[{"key": f"k{i}", "value": "v"} for i in range(51)])
    backend.fault("UnknownResourceFault", "describe_domain", name=backend.domain)


@pytest.mark.parametrize("tag", [{"key": "k" * 129, "value": "v"}, {"key": "k", "value": "v" * 257}],
                         ids=["key-129", "value-257"])
@pytest.mark.parametrize("backend", backends(moto="accepts keys over 128 and values over 256 characters"),
                         indirect=True)
def test_tag_too_long(backend: Backend, tag: dict[str, str]) -> None:
    backend.register_domain()
    backend.fault("ValidationException", "tag_resource", resourceArn=backend.domain_arn(), tags=[tag])


def _client(url: str) -> Any:
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=5)
    return boto3.client("swf", endpoint_url=url, region_name=REGION, config=config)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["snapshot", "log-replay"])
def test_tags_survive_a_restart(tmp_path: Path, stop: signal.Signals) -> None:
    """SIGTERM: the server closes cleanly and snapshots; SIGKILL: the next start replays the log."""
    db = tmp_path / "swf.db"
    with pipeflow_server_process(db) as (url, proc):
        swf = _client(url)
        swf.register_domain(name="tagged", workflowExecutionRetentionPeriodInDays="1",
                            tags=[{"key": "a", "value": "1"}, {"key": "b", "value": "2"}])
        arn = swf.describe_domain(name="tagged")["domainInfo"]["arn"]
        swf.tag_resource(resourceArn=arn, tags=[{"key": "c", "value": "3"}, {"key": "a", "value": "one"}])
        swf.untag_resource(resourceArn=arn, tagKeys=["b"])
        os.kill(proc.pid, stop)
        proc.wait(timeout=10)
    with pipeflow_server_process(db) as (url, _):
        tags = _client(url).list_tags_for_resource(resourceArn=arn)["tags"]
    assert sorted(tags, key=lambda t: t["key"]) == [{"key": "a", "value": "one"}, {"key": "c", "value": "3"}]
