"""The worker: runs the activity tasks of the pipelines it was started with, in a process pool."""

from __future__ import annotations

from ._context import heartbeat, progress
from ._pool import Job, Pool
from ._registry import Registry, TaskRef
from ._worker import Worker

__all__ = ["Job", "Pool", "Registry", "TaskRef", "Worker", "heartbeat", "progress"]
