"""TaskQueue: the pending tasks of one task list, highest taskPriority first, FIFO among equals."""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

__all__ = ["TaskQueue"]

T = TypeVar("T")


class TaskQueue(Generic[T]):
    """Tasks waiting for a poller; stale entries are skipped when popped (lazy removal)."""

    __slots__ = ("_levels", "_order")

    def __init__(self) -> None:
        self._levels: dict[int, deque[T]] = {}
        self._order: list[int] = []  # negated priorities, ascending: highest priority first

    def push(self, item: T, priority: str | None) -> None:
        level = int(priority) if priority else 0
        queue = self._levels.get(level)
        if queue is None:
            queue = self._levels[level] = deque()
            bisect.insort(self._order, -level)
        queue.append(item)

    def pop(self, valid: Callable[[T], bool]) -> T | None:
        """The first task still valid, or None."""
        for level in self._order:
            queue = self._levels[-level]
            while queue:
                item = queue.popleft()
                if valid(item):
                    return item
        return None

    def __iter__(self) -> Iterator[T]:
        for level in self._order:
            yield from self._levels[-level]
