"""What a worker keeps of each activity task it holds, and how often it beats for the idle ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["IDLE_BEAT", "IDLE_RATE", "MIN_DETAILS_GAP", "Held", "idle_interval"]

# Seconds between heartbeats of a task without a heartbeat timeout (and the longest gap for any
# task): a beat is how a worker learns that the task was canceled, so cancellation reaches a
# running task within this. SWF refills an account's heartbeat bucket at 160 calls a second, so a
# worker holding many such tasks beats each less often: at most IDLE_RATE of these calls a second.
IDLE_BEAT = 3.0
IDLE_RATE = 10.0
MIN_DETAILS_GAP = 1.0  # at most one heartbeat a second per task for new details


@dataclass
class Held:
    """An activity task this worker has started and not yet answered."""

    token: str
    activity_id: str
    task: Any
    interval: float
    started: float
    last_beat: float
    details: str | None = None
    dirty: bool = False
    timed: bool = False  # the task has a heartbeat timeout: its beats keep it alive, never stretched


def idle_interval(idle_tasks: int) -> float:
    """Seconds between the beats of each of `idle_tasks` held tasks without a heartbeat timeout."""
    return max(IDLE_BEAT, idle_tasks / IDLE_RATE)
