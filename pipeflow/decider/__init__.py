"""The replay decider: history -> step states -> decisions, and its polling loop."""

from __future__ import annotations

from ._decider import Decider
from .history import NondeterminismError, RunState
from .loop import DeciderLoop

__all__ = ["Decider", "DeciderLoop", "NondeterminismError", "RunState"]
