"""PollSpacer: the polls that follow empty ones start in evenly spaced slots."""

from __future__ import annotations

import time

import pytest

from pipeflow.endpoint import MAX_HOLD, PollSpacer


class Recorder:
    """A stop event that is never set and records how long each poller was asked to wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def wait(self, timeout: float) -> bool:
        self.waits.append(timeout)
        return False


def test_pollers_back_from_empty_polls_together_get_slots_a_hold_over_n_apart() -> None:
    spacer, stop = PollSpacer(4), Recorder()
    held_since = time.monotonic() - 1.0  # an empty poll held a second, as moto does
    assert [spacer.after_empty(held_since, stop) for _ in range(4)] == [False] * 4
    # The first goes at once, the others a quarter of the hold apart.
    assert stop.waits == pytest.approx([0.25, 0.5, 0.75], abs=0.05)


def test_a_poll_started_after_a_task_pushes_the_next_slot_past_it() -> None:
    spacer, stop = PollSpacer(2), Recorder()
    spacer.after_empty(time.monotonic() - 1.0, stop)  # learns the hold: slots 0.5 s apart
    time.sleep(0.6)  # past the reserved slot
    spacer.starting()  # a poller that answered a task polls again now
    spacer.after_empty(time.monotonic(), stop)  # an empty poll held ~0 s: gap ~0, yet after the last start
    assert stop.waits and stop.waits[-1] == pytest.approx(0.5, abs=0.1)


def test_the_pause_is_capped_for_servers_that_hold_empty_polls_a_minute() -> None:
    spacer, stop = PollSpacer(2), Recorder()
    held_since = time.monotonic() - 60.0  # SWF's long poll
    spacer.after_empty(held_since, stop)
    spacer.after_empty(held_since, stop)
    assert stop.waits == pytest.approx([MAX_HOLD / 2], abs=0.05)


def test_one_poller_never_waits() -> None:
    spacer, stop = PollSpacer(1), Recorder()
    for _ in range(3):
        assert spacer.after_empty(time.monotonic() - 1.0, stop) is False
    assert stop.waits == []
