"""The embedded SWF-compatible engine: state machine, runtime, persistence, boto3-shaped client."""

from ._auth import ENVIRONMENT, is_loopback
from ._chain import StoreDamaged
from ._client import EngineClient
from ._engine import Engine
from ._faults import SWFFault
from ._http import EngineServer, serve
from ._model import Limits
from ._sigv4 import Credentials

__all__ = ["ENVIRONMENT", "Credentials", "Engine", "EngineClient", "EngineServer", "Limits", "SWFFault",
           "StoreDamaged", "is_loopback", "serve"]
