"""The engine's own reading of SWF's model matches botocore's, and importing the engine stays light."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError

from pipeflow.engine import Engine
from pipeflow.engine._model import service_model


def _same(ours: Any, theirs: Any, where: str, seen: set[str]) -> None:
    assert ours.name == theirs.name, where
    assert ours.type_name == theirs.type_name, where
    if ours.name in seen:
        return
    seen.add(ours.name)
    assert list(ours.enum) == list(getattr(theirs, "enum", [])), where
    for key in ("min", "max", "pattern"):
        assert ours.metadata.get(key) == theirs.metadata.get(key), f"{where}: {key}"
    if ours.type_name == "structure":
        assert list(ours.members) == list(theirs.members), where
        assert list(ours.required_members) == list(theirs.required_members), where
        for name, sub in ours.members.items():
            _same(sub, theirs.members[name], f"{where}.{name}", seen)
    elif ours.type_name == "list":
        _same(ours.member, theirs.member, f"{where}[]", seen)
    elif ours.type_name == "map":
        _same(ours.value, theirs.value, f"{where}{{}}", seen)


def test_every_operation_and_shape_reads_as_botocore_reads_it() -> None:
    theirs = botocore.session.get_session().get_service_model("swf")
    ours = service_model()
    assert ours.operation_names == sorted(theirs.operation_names)
    assert ours.error_codes == sorted(shape.error_code for shape in theirs.error_shapes)
    seen: set[str] = set()
    for op in theirs.operation_names:
        mine, model = ours.operation_model(op), theirs.operation_model(op)
        for kind in ("input_shape", "output_shape"):
            a, b = getattr(mine, kind), getattr(model, kind)
            assert (a is None) == (b is None), f"{op} {kind}"
            if a is not None:
                _same(a, b, f"{op}.{kind}", seen)
    _same(ours.shape_for("HistoryEvent"), theirs.shape_for("HistoryEvent"), "HistoryEvent", seen)


def test_the_client_raises_the_error_classes_boto3_names() -> None:
    with Engine(poll_timeout=0.05) as engine:
        swf = engine.client()
        with pytest.raises(swf.exceptions.UnknownResourceFault) as caught:
            swf.describe_domain(name="nowhere")
    assert isinstance(caught.value, ClientError)
    assert caught.value.response["Error"]["Code"] == "UnknownResourceFault"
    assert swf.exceptions.from_code("NoSuchCode") is ClientError
    assert swf.can_paginate("get_workflow_execution_history")


def test_importing_and_calling_the_engine_leaves_botocore_s_heavy_parts_unloaded() -> None:
    # Most of a short `pipeflow run` was botocore's session and model importing urllib3 and its docs.
    code = (
        "import sys\n"
        "from pipeflow.engine import Engine\n"
        "with Engine(poll_timeout=0.05) as e:\n"
        "    e.client().register_domain(name='d', workflowExecutionRetentionPeriodInDays='1')\n"
        "heavy = sorted(m for m in ('botocore.session', 'botocore.model', 'botocore.utils', 'urllib3') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
