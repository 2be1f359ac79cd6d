"""The runs page's filters and pages over the list of runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from ._source import RunRow

PAGE_SIZE = 50
STATUSES = ("RUNNING", "CLOSED", "COMPLETED", "FAILED", "CANCELED", "TERMINATED", "TIMED_OUT", "CONTINUED_AS_NEW")
SINCE = {"1h": 3600, "24h": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400}


@dataclass(frozen=True)
class Filters:
    """What the runs page shows: the query string's filters, checked (anything unknown is ignored)."""

    status: str = ""
    pipeline: str = ""
    tag: str = ""
    since: str = ""
    q: str = ""
    page: int = 1

    @classmethod
    def parse(cls, args: Any) -> Filters:
        status = str(args.get("status", "")).upper()
        since = str(args.get("since", ""))
        try:
            page = max(1, int(args.get("page", 1)))
        except ValueError:
            page = 1
        return cls(status=status if status in STATUSES else "", pipeline=str(args.get("pipeline", ""))[:256],
                   tag=str(args.get("tag", ""))[:256], since=since if since in SINCE else "",
                   q=str(args.get("q", "")).strip()[:256], page=page)

    def query(self, **changes: Any) -> dict[str, Any]:
        """The query string of these filters with `changes` (empty values left out)."""
        values = {"status": self.status, "pipeline": self.pipeline, "tag": self.tag, "since": self.since,
                  "q": self.q, "page": self.page if self.page > 1 else "", **changes}
        return {k: v for k, v in values.items() if v not in ("", None, 1)}


def choose(rows: list[RunRow], filters: Filters) -> list[RunRow]:
    """The rows the filters keep, in their order (newest first)."""
    oldest = None
    if filters.since:
        oldest = (datetime.now(timezone.utc) - timedelta(seconds=SINCE[filters.since])).isoformat()
    q = filters.q.lower()
    kept = []
    for row in rows:
        if filters.status == "CLOSED" and row.open:
            continue
        if filters.status not in ("", "CLOSED") and row.status != filters.status:
            continue
        if filters.pipeline and row.pipeline != filters.pipeline:
            continue
        if filters.tag and filters.tag not in row.tags:
            continue
        if oldest is not None and (row.started or "") < oldest:
            continue
        if q and q not in row.run_id.lower() and q not in row.workflow_id.lower():
            continue
        kept.append(row)
    return kept


def page_of(rows: list[RunRow], page: int) -> tuple[list[RunRow], int, int]:
    """`(the rows of the page, the page, the number of pages)`."""
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(page, pages)
    return rows[(page - 1) * PAGE_SIZE: page * PAGE_SIZE], page, pages
