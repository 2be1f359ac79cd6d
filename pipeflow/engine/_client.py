"""EngineClient: a boto3-shaped SWF client (snake_case methods, keyword args, ClientError)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable

from botocore import xform_name
from botocore.exceptions import ClientError as _ClientError

from ._faults import SWFFault
from ._model import read_json, service_model

if TYPE_CHECKING:
    from botocore.paginate import Paginator

    from ._engine import Engine

__all__ = ["EngineClient", "client_error"]


class ClientExceptions:
    """`client.exceptions` as boto3 builds it: a ClientError subclass per error of the model, `from_code`.

    Built here from the model's error shapes: botocore's factory imports most of botocore.
    """

    ClientError = _ClientError

    def __init__(self, codes: list[str]) -> None:
        self._by_code: dict[str, type[_ClientError]] = {}
        for code in codes:
            cls = type(code, (_ClientError,), {"__module__": "botocore.errorfactory"})
            self._by_code[code] = cls
            setattr(self, code, cls)

    def from_code(self, code: str) -> type[_ClientError]:
        found: type[_ClientError] = self._by_code.get(code, _ClientError)  # botocore is untyped: Any
        return found

    if TYPE_CHECKING:
        def __getattr__(self, name: str) -> type[_ClientError]: ...


@functools.cache
def _exceptions() -> ClientExceptions:
    return ClientExceptions(service_model().error_codes)


@functools.cache
def _pagination() -> dict[str, Any]:
    return dict(read_json("paginators-1.json")["pagination"])


def client_error(fault: SWFFault, operation: str) -> Exception:
    """The botocore ClientError boto3 would raise for `fault`, answered to `operation`."""
    error = {"Error": {"Code": fault.code, "Message": fault.message}, "ResponseMetadata": {"HTTPStatusCode": 400}}
    exc: Exception = _exceptions().from_code(fault.code)(error, operation)
    return exc


def _method(operation: str) -> Callable[..., dict[str, Any]]:
    def call(self: EngineClient, **kwargs: Any) -> dict[str, Any]:
        try:
            return self._engine.call(operation, kwargs)
        except SWFFault as fault:
            error = {"Error": {"Code": fault.code, "Message": fault.message},
                     "ResponseMetadata": {"HTTPStatusCode": 400}}
            raise _exceptions().from_code(fault.code)(error, operation) from None

    call.__name__ = xform_name(operation)
    call.__doc__ = f"SWF {operation} on the embedded engine."
    return call


class EngineClient:
    """Calls an Engine like ``boto3.client("swf")`` calls SWF; errors are botocore ClientErrors."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.exceptions = _exceptions()

    def can_paginate(self, operation_name: str) -> bool:
        return self._op_name(operation_name) in _pagination()

    def get_paginator(self, operation_name: str) -> Paginator:
        import botocore.session  # botocore's Paginator wants its own model: loaded when a paginator is asked for
        from botocore.paginate import Paginator

        op = self._op_name(operation_name)
        method = getattr(self, xform_name(op))
        model = botocore.session.get_session().get_service_model("swf")
        return Paginator(method, _pagination()[op], model.operation_model(op))

    @staticmethod
    def _op_name(name: str) -> str:
        by_snake = {xform_name(op): op for op in service_model().operation_names}
        return str(by_snake.get(name, name))

    if TYPE_CHECKING:
        def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]: ...


for _op in service_model().operation_names:
    setattr(EngineClient, xform_name(_op), _method(_op))
