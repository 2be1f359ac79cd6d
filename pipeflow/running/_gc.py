"""`pipeflow gc`: remove the offloaded payloads of runs that closed long enough ago.

A store used by pipeflow runs holds one folder per workflow id,
`<root>/<workflowId>/`, with a manifest `pipeflow-run.json` the starter writes
before it starts the execution. A folder goes when its manifest names the
domain, is older than the cutoff, and no execution of that workflow id is open
or closed at or after the cutoff. Folders without a manifest, or of another
domain, are never touched.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_AGE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*")
AGE_FORMS = "a number and a unit: 90s, 30m, 12h, 7d or 2w"
MANIFEST_MAX = 64 * 1024  # bytes: a manifest is a few hundred; anything larger is not ours
PAGE = 1000  # executions per List*WorkflowExecutions page (SWF's maximum)


def parse_age(text: str) -> float:
    """`"7d"` -> seconds; raises ValueError naming the accepted forms.

    `0s` is an age: every closed run is old enough (open runs are always kept).
    """
    match = _AGE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not an age: give {AGE_FORMS}")
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass
class Report:
    """What a collection found and did (or would do, on a dry run)."""

    removed_objects: int = 0
    removed_bytes: int = 0
    removed: list[str] = field(default_factory=list)  # the folders' workflow ids
    kept: int = 0  # folders of open, recently closed or just started runs
    left_alone: int = 0  # folders without a manifest, with another domain's, or an unreadable one
    loose: int = 0  # objects outside any folder

    def summary(self, age: str, dry_run: bool = False) -> str:
        """One line for stderr."""
        verb = "would remove" if dry_run else "removed"
        line = (
            f"{verb} {_count(self.removed_objects, 'object')} ({_size(self.removed_bytes)}) "
            f"of {_count(len(self.removed), 'run')}; kept {_count(self.kept, 'run')} (open, or closed or "
            f"started within {age}); left {_count(self.left_alone, 'folder')} alone "
            "(other domains or not made by pipeflow)"
        )
        if self.loose:
            line += f"; {_count(self.loose, 'object')} outside any run folder left alone"
        return line


def gc(
    older_than: float,
    *,
    store: str | None,
    backend: str = "embedded",
    domain: str | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
    dry_run: bool = False,
    note: Callable[[str], None] = lambda text: None,
    on_folder: Callable[[str], None] | None = None,
) -> Report:
    """`pipeflow gc`: the runs are listed on the embedded engine's state or on SWF, then the store is swept.

    Embedded: the store defaults to ./.pipeflow/payloads, the runs are those in
    ./.pipeflow/state.sqlite (domain `pipeflow`). SWF: `domain` and `store` are required.
    """
    import converters

    from ..endpoint import service_errors

    cutoff = now() - older_than
    if backend == "swf":
        from ..endpoint import swf_client

        assert domain is not None and store is not None
        with service_errors(domain):
            live = live_workflows(swf_client(endpoint_url=endpoint_url, region=region), domain, cutoff)
    else:
        from ._embedded import PAYLOADS
        from ._executions import DOMAIN

        domain = DOMAIN
        if store is None:
            if not PAYLOADS.is_dir():
                note(f"nothing to collect: there is no {PAYLOADS}")
                return Report()
            store = str(PAYLOADS)
        live = _embedded_live(cutoff, note)
    return collect(converters.open_store(store), domain, live, cutoff, dry_run=dry_run, on_folder=on_folder)


def _embedded_live(cutoff: float, note: Callable[[str], None]) -> set[str]:
    """The live workflow ids in ./.pipeflow/state.sqlite (none when there is no state)."""
    from .._errors import EngineError
    from ..endpoint import service_errors
    from ..engine import Engine
    from ._embedded import STATE_DB
    from ._executions import DOMAIN

    if not STATE_DB.is_file():
        note(f"no engine state at {STATE_DB}: no run is open")
        return set()
    # Opening the state takes its lock: a `pipeflow run` in progress makes this fail (exit 4).
    with Engine(db=str(STATE_DB)) as engine:
        swf = engine.client()
        try:
            with service_errors(DOMAIN):
                return live_workflows(swf, DOMAIN, cutoff)
        except EngineError as exc:
            if exc.code == "UnknownResourceFault":
                return set()  # no run ever registered the domain
            raise


def collect(
    store: Any,
    domain: str,
    live: set[str],
    cutoff: float,
    *,
    dry_run: bool = False,
    on_folder: Callable[[str], None] | None = None,
) -> Report:
    """Remove (or, on a dry run, only list) the folders of `store` whose runs are done with.

    `live` holds the workflow ids to keep whatever their manifests say (open or recently
    closed executions); `on_folder` is called with each folder's URI before it goes.
    """
    from ..wire import MANIFEST

    report = Report()
    folders: dict[str, tuple[int, int, bool]] = {}  # workflow id -> (objects, bytes, has a manifest)
    for info in store.walk():
        workflow_id, slash, rest = info.key.partition("/")
        if not slash:
            report.loose += 1
            continue
        count, size, manifest = folders.get(workflow_id, (0, 0, False))
        folders[workflow_id] = (count + 1, size + info.size, manifest or rest == MANIFEST)
    for workflow_id, (count, size, has_manifest) in sorted(folders.items()):
        doc = _manifest(store, f"{workflow_id}/{MANIFEST}") if has_manifest else None
        if doc is None or doc.get("domain") != domain or doc.get("workflowId") != workflow_id:
            report.left_alone += 1
            continue
        created = doc.get("created")
        if workflow_id in live or not isinstance(created, (int, float)) or created >= cutoff:
            report.kept += 1
            continue
        if on_folder is not None:
            on_folder(store.child(workflow_id).uri)
        report.removed.append(workflow_id)
        if dry_run:
            report.removed_objects += count
            report.removed_bytes += size
        else:
            # Listed again: whatever was written since the first listing goes too.
            sizes: list[int] = []
            report.removed_objects += store.delete(_keys(store.walk(f"{workflow_id}/"), sizes))
            report.removed_bytes += sum(sizes)
    return report


def _keys(infos: Iterable[Any], sizes: list[int]) -> Iterator[str]:
    for info in infos:
        sizes.append(info.size)
        yield info.key


def _manifest(store: Any, key: str) -> dict[str, Any] | None:
    """The manifest's JSON object, or None when it is not one pipeflow wrote."""
    try:
        doc = json.loads(bytes(store.read(key, MANIFEST_MAX)))
    except (ValueError, UnicodeDecodeError):
        return None
    return doc if isinstance(doc, dict) and doc.get("v") == 1 else None


def live_workflows(swf: Any, domain: str, cutoff: float) -> set[str]:
    """The workflow ids with an execution open, or closed at or after `cutoff` (epoch seconds).

    The answers are filtered here too: moto ignores the lists' filters, and leaves out
    `closeTimestamp` (then the close event's time is read from the history).
    """
    live = {
        info["execution"]["workflowId"]
        for info in _pages(swf.list_open_workflow_executions, domain=domain, startTimeFilter={"oldestDate": 0})
        if info.get("executionStatus", "OPEN") == "OPEN"
    }
    for info in _pages(swf.list_closed_workflow_executions, domain=domain, closeTimeFilter={"oldestDate": cutoff}):
        workflow_id = info["execution"]["workflowId"]
        if workflow_id in live:
            continue
        closed = info.get("closeTimestamp")
        if closed is None and info.get("executionStatus", "CLOSED") == "CLOSED":
            closed = _close_time(swf, domain, info["execution"])
        if info.get("executionStatus", "CLOSED") != "CLOSED" or closed is None or _epoch(closed) >= cutoff:
            live.add(workflow_id)
    return live


def _close_time(swf: Any, domain: str, execution: dict[str, str]) -> Any:
    """When a closed execution closed: its newest event's time (None if it cannot be told)."""
    page = swf.get_workflow_execution_history(domain=domain, execution=execution, reverseOrder=True, maximumPageSize=1)
    events = page.get("events") or [{}]
    return events[0].get("eventTimestamp")


def _pages(call: Callable[..., dict[str, Any]], **params: Any) -> Iterator[dict[str, Any]]:
    token = None
    while True:
        page = call(**params, maximumPageSize=PAGE, **({"nextPageToken": token} if token else {}))
        yield from page.get("executionInfos", ())
        token = page.get("nextPageToken")
        if not token:
            return


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _size(n: int) -> str:
    if n < 1000:
        return f"{n} B"
    value = float(n)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000:
            break
    return f"{value:.1f} {unit}"


def now() -> float:
    """The clock gc measures ages against (epoch seconds, as manifests and SWF timestamps are)."""
    return time.time()
