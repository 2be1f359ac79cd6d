"""Pin the public names: adding or removing one is a decision, not an accident."""

from __future__ import annotations

import converters
import pipeflow

PIPEFLOW_NAMES = {
    "EngineError",
    "PipeflowError",
    "PipelineError",
    "PipelineLoadError",
    "RunCanceled",
    "RunFailed",
    "RunTerminated",
    "RunTimedOut",
    "TaskFailed",
    "WorkerError",
    "__version__",
    "Client",
    "Pipeline",
    "Run",
    "Signature",
    "Task",
    "chain",
    "group",
    "heartbeat",
    "map",
    "task",
    "progress",
    "repeat",
    "run",
    "stage",
    "wait_signal",
}

CONVERTERS_NAMES = {
    "ENTRY_POINT_GROUP",
    "SWF_LIMIT",
    "Codec",
    "ConverterError",
    "DecodeError",
    "EncodeError",
    "IntegrityError",
    "JsonCodec",
    "LocalStore",
    "MemoryStore",
    "MsgpackCodec",
    "ObjectInfo",
    "PandasCodec",
    "PayloadTooLarge",
    "Reference",
    "S3Store",
    "Store",
    "StoreError",
    "dumps",
    "is_reference",
    "loads",
    "open_store",
    "payload_size",
    "register",
}


def test_pipeflow_exports() -> None:
    assert set(pipeflow.__all__) == PIPEFLOW_NAMES
    for name in pipeflow.__all__:
        assert hasattr(pipeflow, name), name


def test_converters_exports() -> None:
    assert set(converters.__all__) == CONVERTERS_NAMES
    for name in converters.__all__:
        assert hasattr(converters, name), name


def test_converter_errors_share_the_root() -> None:
    for name in ("EncodeError", "DecodeError", "IntegrityError", "PayloadTooLarge", "StoreError"):
        assert issubclass(getattr(converters, name), pipeflow.PipeflowError)
