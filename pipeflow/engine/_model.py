"""SWF's service model (botocore's data file, read without importing botocore), quotas, small shared helpers.

botocore ships SWF's API model as JSON; building botocore's own ServiceModel imports most of
botocore (urllib3, its HTTP stack, docs machinery), which is most of a short `pipeflow run`'s
start-up. The engine needs only the shapes, so it reads the file itself; `_validate` checks
requests against them and tests/engine compare this reading with botocore's.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ._faults import SWFFault

__all__ = ["Limits", "OperationModel", "ServiceModel", "Shape", "data_file", "operation_model", "service_model",
           "to_datetime"]

API_VERSION = "2012-01-25"


@dataclass(frozen=True)
class Limits:
    """SWF's quotas (SWF-LIMITS.md); tests lower them to reach them quickly."""

    max_field: int = 32_768
    max_reason: int = 256
    max_heartbeat_details: int = 2_048
    max_open_activities: int = 1_000
    max_open_timers: int = 1_000
    max_open_children: int = 1_000
    max_events: int = 25_000
    max_page_size: int = 1_000
    # Not SWF's: a factor on every timer's startToFireTimeout (retry back-off, waits between
    # iterations). 0 makes timers fire at once, for tests (`pipeflow.testing`'s fake time).
    timer_scale: float = 1.0


@dataclass
class Shape:
    """One shape of the model, with the names botocore's `Shape` gives what `_validate` reads."""

    name: str
    type_name: str
    metadata: dict[str, Any]
    enum: list[str]
    required_members: list[str]
    members: dict[str, Shape] = field(default_factory=dict)  # a structure's, in the model's order
    member: Shape | None = None  # a list's
    value: Shape | None = None  # a map's


@dataclass(frozen=True)
class OperationModel:
    name: str
    input_shape: Shape | None
    output_shape: Shape | None


class ServiceModel:
    """The operations, shapes and error shapes of SWF's model."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data
        self._shapes: dict[str, Shape] = {}
        self.operation_names: list[str] = sorted(data["operations"])
        self.error_codes: list[str] = sorted(
            spec.get("error", {}).get("code", name) for name, spec in data["shapes"].items() if spec.get("exception"))

    def shape_for(self, name: str) -> Shape:
        done = self._shapes.get(name)
        if done is not None:
            return done
        spec = self._data["shapes"][name]
        meta = {k: spec[k] for k in ("min", "max", "pattern") if k in spec}
        shape = self._shapes[name] = Shape(name, spec["type"], meta, list(spec.get("enum", ())),
                                           list(spec.get("required", ())))
        if shape.type_name == "structure":  # recursive shapes find themselves in the cache
            shape.members = {member: self.shape_for(ref["shape"]) for member, ref in spec.get("members", {}).items()}
        elif shape.type_name == "list":
            shape.member = self.shape_for(spec["member"]["shape"])
        elif shape.type_name == "map":
            shape.value = self.shape_for(spec["value"]["shape"])
        return shape

    def operation_model(self, name: str) -> OperationModel:
        spec = self._data["operations"][name]  # KeyError: unknown
        wanted, answer = spec.get("input"), spec.get("output")
        return OperationModel(name, self.shape_for(wanted["shape"]) if wanted else None,
                              self.shape_for(answer["shape"]) if answer else None)


def data_file(name: str) -> Path:
    """A file of botocore's SWF data folder (service-2.json.gz, paginators-1.json), found without importing it."""
    spec = importlib.util.find_spec("botocore")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("botocore is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "swf" / API_VERSION / name


def read_json(name: str) -> dict[str, Any]:
    path = data_file(name)
    if not path.exists() and path.with_name(name + ".gz").exists():
        path = path.with_name(name + ".gz")
    raw = path.read_bytes()
    return dict(json.loads(gzip.decompress(raw) if path.suffix == ".gz" else raw))


@functools.cache
def service_model() -> ServiceModel:
    """SWF's API model as shipped with botocore."""
    return ServiceModel(read_json("service-2.json"))


@functools.cache
def operation_model(name: str) -> OperationModel:
    try:
        return service_model().operation_model(name)
    except KeyError as exc:
        raise SWFFault("UnknownOperationException", f"unknown operation {name}") from exc


def to_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)
