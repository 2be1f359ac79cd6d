"""The embedded SWF-compatible engine: state machine, runtime, persistence, boto3-shaped client."""

import importlib
from typing import TYPE_CHECKING, Any

from ._batch import Batch
from ._chain import StoreDamaged
from ._client import EngineClient
from ._engine import Engine
from ._faults import SWFFault
from ._lambda import LAMBDA_VERSION
from ._model import Limits

if TYPE_CHECKING:
    from ._auth import ENVIRONMENT, is_loopback
    from ._http import EngineServer, serve
    from ._sigv4 import Credentials

__all__ = ["ENVIRONMENT", "LAMBDA_VERSION", "Batch", "Credentials", "Engine", "EngineClient", "EngineServer", "Limits",
           "SWFFault", "StoreDamaged", "is_loopback", "serve"]

# The HTTP server's names are imported when first asked for: an embedded run never needs them,
# and they bring http.server, http.client, email and ssl (about 20 ms of every `pipeflow run`).
_SERVER = {"ENVIRONMENT": "._auth", "is_loopback": "._auth", "EngineServer": "._http", "serve": "._http",
           "Credentials": "._sigv4"}


def __getattr__(name: str) -> Any:
    module = _SERVER.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
