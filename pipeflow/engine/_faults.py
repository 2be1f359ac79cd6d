"""SWFFault: an SWF error answer (fault code + message), raised by the engine."""

from __future__ import annotations

from .._errors import EngineError

__all__ = ["SWFFault"]


class SWFFault(EngineError):
    """A call the engine refused, with SWF's fault code (e.g. ``UnknownResourceFault``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)
        self.code: str = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __reduce__(self) -> tuple[type[SWFFault], tuple[str, str]]:
        return (type(self), (self.code, self.message))
