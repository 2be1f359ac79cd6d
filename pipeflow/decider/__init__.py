"""The replay decider: history -> step states -> decisions, and its polling loop.

Also the names of what the decider records in a history (markers, the cancel signal), read back by
the runners (resume, progress) and the clients, and how a Lambda step's result reads back.
"""

from __future__ import annotations

from ._control import CANCEL_SIGNAL
from ._decider import Decider
from ._lambda import unwrap_result
from ._markers import CHECKPOINT, PROGRESS, read_checkpoint
from .history import NondeterminismError, RunState
from .loop import DeciderLoop

__all__ = [
    "CANCEL_SIGNAL",
    "CHECKPOINT",
    "PROGRESS",
    "Decider",
    "DeciderLoop",
    "NondeterminismError",
    "RunState",
    "read_checkpoint",
    "unwrap_result",
]
