"""EngineClient: a boto3-shaped SWF client (snake_case methods, keyword args, ClientError)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable

import botocore.session
from botocore import xform_name
from botocore.errorfactory import ClientExceptionsFactory
from botocore.paginate import Paginator

from ._faults import SWFFault
from ._model import service_model

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = ["EngineClient"]


@functools.cache
def _exceptions() -> Any:
    return ClientExceptionsFactory().create_client_exceptions(service_model())


@functools.cache
def _pagination() -> dict[str, Any]:
    model = botocore.session.get_session().get_paginator_model("swf")
    return dict(model._paginator_config)


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
        op = self._op_name(operation_name)
        method = getattr(self, xform_name(op))
        return Paginator(method, _pagination()[op], service_model().operation_model(op))

    @staticmethod
    def _op_name(name: str) -> str:
        by_snake = {xform_name(op): op for op in service_model().operation_names}
        return str(by_snake.get(name, name))

    if TYPE_CHECKING:
        def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]: ...


for _op in service_model().operation_names:
    setattr(EngineClient, xform_name(_op), _method(_op))
