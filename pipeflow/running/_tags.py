"""A run's tags and default task priority: SWF's `tagList` and `taskPriority` on StartWorkflowExecution.

Tags are `key=value` strings (`pf.run(..., tags={"team": "data"})`, `pipeflow run --tag team=data`);
SWF keeps at most 5 on an execution, each at most 256 characters, and lists executions by one tag
at a time (`tagFilter`, which excludes the other filters of the same call). Stages and shards (child
executions) get their parent's tags and priority from the decider.

The run's priority is the workflow execution's `taskPriority`: SWF orders the run's decision tasks
by it, and the decider gives it to every step without a priority of its own (`@pf.task(priority=)`,
`.s().options(priority=)`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Union

from .._errors import PipelineError
from ..task import check_priority

__all__ = ["MAX_TAGS", "OWN_TAGS", "TAG_CHARS", "Tags", "parse_tag", "run_options", "tag_filter", "tag_list", "tags_of"]

MAX_TAGS = 5  # SWF: tags on one execution
TAG_CHARS = 256  # SWF: characters of one tag
# Tags pipeflow puts on every run itself (none today: the pipeline file is recorded in the input
# document). They count against MAX_TAGS; what is left is the user's budget, named in the errors.
OWN_TAGS: tuple[str, ...] = ()
RESERVED = "pipeflow."  # keys starting so are pipeflow's own

Tags = Union[Mapping[str, Any], Iterable[str], None]


def _budget() -> str:
    room = MAX_TAGS - len(OWN_TAGS)
    if not OWN_TAGS:
        return f"SWF keeps at most {MAX_TAGS} tags on a run"
    return f"SWF keeps at most {MAX_TAGS} tags on a run and pipeflow uses {len(OWN_TAGS)}, so at most {room} are yours"


def _check_text(text: str, what: str, fix: str) -> None:
    bad = next((c for c in text if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0), None)
    if bad is not None:
        raise PipelineError(f"{what} contains the control character {bad!r}: {fix}")


def _tag(key: object, value: object, what: str) -> str:
    """One `key=value` tag, checked; PipelineError naming the tag and the fix."""
    if not isinstance(key, str) or not key or key != key.strip() or "=" in key:
        raise PipelineError(f"{what} {key!r}: a tag's key is a non-empty string without '=' or surrounding "
                            "spaces, e.g. tags={'team': 'data'} or --tag team=data")
    if key.startswith(RESERVED):
        raise PipelineError(f"{what} {key!r}: keys starting with {RESERVED!r} are pipeflow's own; choose another key")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise PipelineError(f"{what} {key!r}: its value must be a string (or a whole number), got "
                            f"{type(value).__name__}; e.g. tags={{{key!r}: 'data'}}")
    text = f"{key}={value}"
    _check_text(text, f"{what} {key!r}", "tags are plain text")
    if len(text) > TAG_CHARS:
        raise PipelineError(f"{what} {key!r} is {len(text)} characters as key=value (SWF allows {TAG_CHARS}): "
                            "shorten its key or value")
    return text


def parse_tag(text: object, what: str = "tag") -> tuple[str, str]:
    """`(key, value)` of a `key=value` text; PipelineError naming it and the form otherwise."""
    if not isinstance(text, str) or "=" not in text:
        raise PipelineError(f"{what} {text!r} is not key=value: give e.g. team=data")
    key, _, value = text.partition("=")
    _tag(key, value, what)
    return key, value


def tag_list(tags: Tags, what: str = "tag") -> list[str]:
    """The tagList of a run: `tags` as {"key": "value"} or ["key=value", ...], checked, in the order given.

    Raises PipelineError (one line: the tag, what is wrong, the fix) for a malformed tag, a key
    given twice, or more tags than SWF keeps besides pipeflow's own.
    """
    if tags is None:
        return []
    if isinstance(tags, str):
        raise PipelineError(f"tags={tags!r}: give a mapping, e.g. tags={{'team': 'data'}}, or a list of "
                            "'key=value' strings")
    pairs = list(tags.items()) if isinstance(tags, Mapping) else [parse_tag(t, what) for t in tags]
    seen: dict[str, str] = {}
    for key, value in pairs:
        text = _tag(key, value, what)
        if key in seen:
            raise PipelineError(f"{what} {key!r} is given twice ({seen[key]!r} and {text!r}): a key has one value")
        seen[key] = text
    room = MAX_TAGS - len(OWN_TAGS)
    if len(seen) > room:
        raise PipelineError(f"{len(seen)} tags given ({', '.join(seen)}): {_budget()}; drop {len(seen) - room}")
    return [*seen.values()]


def tag_filter(tag: str | None) -> str | None:
    """The text of a `key=value` filter (`pipeflow runs --tag`, `Client.runs(tag=)`), checked; None for none."""
    if tag is None:
        return None
    key, value = parse_tag(tag)
    return f"{key}={value}"


def tags_of(info: Mapping[str, Any]) -> dict[str, str]:
    """The tags of an executionInfo as {key: value} (a tag without '=' set by another tool: its text, "")."""
    out: dict[str, str] = {}
    for text in info.get("tagList") or ():
        key, _, value = str(text).partition("=")
        out[key] = value
    return out


def run_options(tags: Tags = None, priority: object = None) -> dict[str, Any]:
    """The StartWorkflowExecution members of a run's tags and default priority, checked (empty when none)."""
    out: dict[str, Any] = {}
    listed = tag_list(tags)
    if listed:
        out["tagList"] = listed
    checked = check_priority(priority, "the run's priority")
    if checked is not None:
        out["taskPriority"] = str(checked)
    return out
