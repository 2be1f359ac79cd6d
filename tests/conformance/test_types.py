"""Register, Describe, List, Deprecate, Undeprecate and Delete of workflow and activity types."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Backend, backends, check_output

KINDS = ("workflow", "activity")
NO_DELETE = "DeleteWorkflowType / DeleteActivityType are not implemented"


def _op(kind: str, verb: str) -> str:
    return f"{verb}{kind.capitalize()}Type"


def _call(backend: Backend, kind: str, verb: str, **params: Any) -> dict[str, Any]:
    method = f"{verb}_{kind}_types" if verb == "list" else f"{verb}_{kind}_type"
    out: dict[str, Any] = getattr(backend.swf, method)(**params)
    return out


def _ref(backend: Backend, kind: str) -> dict[str, Any]:
    return {"domain": backend.domain, f"{kind}Type": {"name": "t", "version": "1"}}


def _register(backend: Backend, kind: str) -> None:
    backend.register_domain()
    _call(backend, kind, "register", domain=backend.domain, name="t", version="1", description="about")


@pytest.mark.parametrize("kind", KINDS)
def test_register_type(backend: Backend, kind: str) -> None:
    backend.register_domain()
    out = _call(backend, kind, "register", domain=backend.domain, name="t", version="1",
                defaultTaskList={"name": "main"}, defaultTaskStartToCloseTimeout="60")
    check_output(_op(kind, "Register"), out)


@pytest.mark.parametrize("kind", KINDS)
def test_register_type_twice(backend: Backend, kind: str) -> None:
    _register(backend, kind)
    backend.fault("TypeAlreadyExistsFault", f"register_{kind}_type", domain=backend.domain, name="t", version="1")


@pytest.mark.parametrize("kind", KINDS)
def test_register_type_unknown_domain(backend: Backend, kind: str) -> None:
    backend.fault("UnknownResourceFault", f"register_{kind}_type", domain=backend.domain, name="t", version="1")


@pytest.mark.parametrize("kind", KINDS)
def test_describe_type(backend: Backend, kind: str) -> None:
    _register(backend, kind)
    out = _call(backend, kind, "describe", **_ref(backend, kind))
    check_output(_op(kind, "Describe"), out)
    info = out["typeInfo"]
    assert (info[f"{kind}Type"], info["status"], info["description"]) == (
        {"name": "t", "version": "1"}, "REGISTERED", "about")


@pytest.mark.parametrize("kind", KINDS)
def test_describe_unknown_type(backend: Backend, kind: str) -> None:
    backend.register_domain()
    backend.fault("UnknownResourceFault", f"describe_{kind}_type", **_ref(backend, kind))


@pytest.mark.parametrize("kind", KINDS)
def test_list_types(backend: Backend, kind: str) -> None:
    _register(backend, kind)
    out = _call(backend, kind, "list", domain=backend.domain, registrationStatus="REGISTERED")
    check_output(_op(kind, "List") + "s", out)
    assert [i[f"{kind}Type"] for i in out["typeInfos"]] == [{"name": "t", "version": "1"}]
    assert _call(backend, kind, "list", domain=backend.domain, registrationStatus="DEPRECATED")["typeInfos"] == []


@pytest.mark.parametrize("kind", KINDS)
def test_list_types_unknown_domain(backend: Backend, kind: str) -> None:
    backend.fault("UnknownResourceFault", f"list_{kind}_types", domain=backend.domain,
                  registrationStatus="REGISTERED")


@pytest.mark.parametrize("kind", KINDS)
def test_deprecate_type(backend: Backend, kind: str) -> None:
    _register(backend, kind)
    check_output(_op(kind, "Deprecate"), _call(backend, kind, "deprecate", **_ref(backend, kind)))
    info = _call(backend, kind, "describe", **_ref(backend, kind))["typeInfo"]
    assert info["status"] == "DEPRECATED"
    assert "deprecationDate" in info


@pytest.mark.parametrize("kind", KINDS)
def test_deprecate_type_twice(backend: Backend, kind: str) -> None:
    _register(backend, kind)
    _call(backend, kind, "deprecate", **_ref(backend, kind))
    backend.fault("TypeDeprecatedFault", f"deprecate_{kind}_type", **_ref(backend, kind))


@pytest.mark.parametrize("kind", KINDS)
def test_deprecate_unknown_type(backend: Backend, kind: str) -> None:
    backend.register_domain()
    backend.fault("UnknownResourceFault", f"deprecate_{kind}_type", **_ref(backend, kind))


@pytest.mark.parametrize("kind", KINDS)
def test_undeprecate_type(backend: Backend, kind: str) -> None:
    _register(backend, kind)
    _call(backend, kind, "deprecate", **_ref(backend, kind))
    check_output(_op(kind, "Undeprecate"), _call(backend, kind, "undeprecate", **_ref(backend, kind)))
    assert _call(backend, kind, "describe", **_ref(backend, kind))["typeInfo"]["status"] == "REGISTERED"


@pytest.mark.parametrize("kind", KINDS)
def test_undeprecate_registered_type(backend: Backend, kind: str) -> None:
    _register(backend, kind)
    backend.fault("TypeAlreadyExistsFault", f"undeprecate_{kind}_type", **_ref(backend, kind))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("backend", backends(moto=NO_DELETE), indirect=True)
def test_delete_type(backend: Backend, kind: str) -> None:
    _register(backend, kind)
    _call(backend, kind, "deprecate", **_ref(backend, kind))
    check_output(_op(kind, "Delete"), _call(backend, kind, "delete", **_ref(backend, kind)))
    backend.fault("UnknownResourceFault", f"describe_{kind}_type", **_ref(backend, kind))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("backend", backends(moto=NO_DELETE), indirect=True)
def test_delete_registered_type(backend: Backend, kind: str) -> None:
    _register(backend, kind)
    backend.fault("TypeNotDeprecatedFault", f"delete_{kind}_type", **_ref(backend, kind))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("backend", backends(moto=NO_DELETE), indirect=True)
def test_delete_unknown_type(backend: Backend, kind: str) -> None:
    backend.register_domain()
    backend.fault("UnknownResourceFault", f"delete_{kind}_type", **_ref(backend, kind))
