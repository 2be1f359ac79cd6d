"""RegisterDomain, DescribeDomain, ListDomains, DeprecateDomain, UndeprecateDomain."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from .conftest import ARN, REGION, Backend, backends, check_output


def test_register_domain(backend: Backend) -> None:
    check_output("RegisterDomain", backend.swf.register_domain(
        name=backend.domain, workflowExecutionRetentionPeriodInDays="1", description="d"))


def test_register_domain_twice(backend: Backend) -> None:
    backend.register_domain()
    backend.fault("DomainAlreadyExistsFault", "register_domain", name=backend.domain,
                  workflowExecutionRetentionPeriodInDays="1")


def test_describe_domain(backend: Backend) -> None:
    backend.register_domain(description="about")
    out = backend.swf.describe_domain(name=backend.domain)
    check_output("DescribeDomain", out)
    info = out["domainInfo"]
    assert (info["name"], info["status"], info["description"]) == (backend.domain, "REGISTERED", "about")
    assert out["configuration"] == {"workflowExecutionRetentionPeriodInDays": "1"}


def test_domain_arn_names_the_request_region(backend: Backend) -> None:
    backend.register_domain()
    match = ARN.fullmatch(backend.domain_arn())
    assert match is not None
    assert (match["region"], match["name"]) == (REGION, backend.domain)


def test_describe_unknown_domain(backend: Backend) -> None:
    backend.fault("UnknownResourceFault", "describe_domain", name=backend.domain)


def test_list_domains(backend: Backend) -> None:
    backend.register_domain()
    out = backend.swf.list_domains(registrationStatus="REGISTERED")
    check_output("ListDomains", out)
    assert backend.domain in [d["name"] for d in out["domainInfos"]]
    deprecated = backend.swf.list_domains(registrationStatus="DEPRECATED")["domainInfos"]
    assert backend.domain not in [d["name"] for d in deprecated]


@pytest.mark.parametrize("backend", backends(moto="accepts any registrationStatus"), indirect=True)
def test_list_domains_bad_status(backend: Backend) -> None:
    backend.fault("ValidationException", "list_domains", registrationStatus="BOGUS")


def test_deprecate_domain(backend: Backend) -> None:
    backend.register_domain()
    check_output("DeprecateDomain", backend.swf.deprecate_domain(name=backend.domain))
    assert backend.swf.describe_domain(name=backend.domain)["domainInfo"]["status"] == "DEPRECATED"
    listed = backend.swf.list_domains(registrationStatus="DEPRECATED")["domainInfos"]
    assert backend.domain in [d["name"] for d in listed]


def test_deprecate_domain_twice(backend: Backend) -> None:
    backend.register_domain()
    backend.swf.deprecate_domain(name=backend.domain)
    backend.fault("DomainDeprecatedFault", "deprecate_domain", name=backend.domain)


def test_deprecate_unknown_domain(backend: Backend) -> None:
    backend.fault("UnknownResourceFault", "deprecate_domain", name=backend.domain)


def test_undeprecate_domain(backend: Backend) -> None:
    backend.register_domain()
    backend.swf.deprecate_domain(name=backend.domain)
    check_output("UndeprecateDomain", backend.swf.undeprecate_domain(name=backend.domain))
    assert backend.swf.describe_domain(name=backend.domain)["domainInfo"]["status"] == "REGISTERED"


def test_undeprecate_registered_domain(backend: Backend) -> None:
    backend.register_domain()
    backend.fault("DomainAlreadyExistsFault", "undeprecate_domain", name=backend.domain)


def test_undeprecate_unknown_domain(backend: Backend) -> None:
    backend.fault("UnknownResourceFault", "undeprecate_domain", name=backend.domain)


@pytest.mark.parametrize("backend", backends(moto="registers types in a deprecated domain"), indirect=True)
def test_register_type_in_deprecated_domain(backend: Backend) -> None:
    # "a deprecated domain cannot be used to create new workflow executions or register new types"
    backend.register_domain()
    backend.swf.deprecate_domain(name=backend.domain)
    with pytest.raises(ClientError) as info:
        backend.swf.register_workflow_type(domain=backend.domain, name="wf", version="1")
    assert info.value.response["Error"]["Code"] in ("DomainDeprecatedFault", "OperationNotPermittedFault")
