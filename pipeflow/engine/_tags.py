"""Resource tags on domains: TagResource, UntagResource, ListTagsForResource (by the domain's ARN)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ._faults import SWFFault

if TYPE_CHECKING:
    from ._registry import Registry

__all__ = ["MAX_TAGS", "list_tags", "merged", "tag", "untag"]

# SWF's quota: at most 50 tags on one domain (the model bounds a key to 1-128 and a value to 256 characters).
MAX_TAGS = 50
# arn:PARTITION:swf:REGION:ACCOUNT:/domain/NAME; the region and account are whatever the server answered with.
_DOMAIN_ARN = re.compile(r"arn:aws[a-z-]*:swf:[^:]*:[^:]*:/domain/(?P<name>[^/]+)")


def merged(tags: list[dict[str, str]], new: list[dict[str, Any]]) -> list[dict[str, str]]:
    """``tags`` with ``new`` added (a key already there takes the new value); TooManyTagsFault past the quota."""
    out = {t["key"]: t["value"] for t in tags}
    for t in new:
        out[t["key"]] = t.get("value", "")
    if len(out) > MAX_TAGS:
        raise SWFFault("TooManyTagsFault", f"a domain has at most {MAX_TAGS} tags, this would make {len(out)}")
    return [{"key": k, "value": v} for k, v in out.items()]


def _domain(registry: Registry, arn: str) -> dict[str, Any]:
    match = _DOMAIN_ARN.fullmatch(arn)
    d = registry.domains.get(match.group("name")) if match else None
    if d is None:
        raise SWFFault("UnknownResourceFault", f"Unknown resource: {arn}")
    return d


def tag(registry: Registry, p: dict[str, Any]) -> dict[str, Any]:
    d = _domain(registry, p["resourceArn"])
    d["tags"] = merged(d.get("tags", []), p["tags"])
    return {}


def untag(registry: Registry, p: dict[str, Any]) -> dict[str, Any]:
    d = _domain(registry, p["resourceArn"])
    gone = set(p["tagKeys"])
    d["tags"] = [t for t in d.get("tags", []) if t["key"] not in gone]
    return {}


def list_tags(registry: Registry, p: dict[str, Any]) -> dict[str, Any]:
    d = _domain(registry, p["resourceArn"])
    return {"tags": [dict(t) for t in d.get("tags", [])]}
