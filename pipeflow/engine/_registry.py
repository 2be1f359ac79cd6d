"""Domains, workflow types and activity types: register, describe, list, deprecate."""

from __future__ import annotations

from typing import Any

from ._faults import SWFFault
from ._model import to_datetime
from ._tags import merged

__all__ = ["Registry"]

_WF_DEFAULTS = ("defaultTaskStartToCloseTimeout", "defaultExecutionStartToCloseTimeout",
                "defaultTaskList", "defaultTaskPriority", "defaultChildPolicy", "defaultLambdaRole")
_ACT_DEFAULTS = ("defaultTaskStartToCloseTimeout", "defaultTaskHeartbeatTimeout", "defaultTaskList",
                 "defaultTaskPriority", "defaultTaskScheduleToStartTimeout",
                 "defaultTaskScheduleToCloseTimeout")


def _page(items: list[dict[str, Any]], key: str, params: dict[str, Any]) -> dict[str, Any]:
    # Registries are small: one page, sorted by name as SWF does.
    items.sort(key=lambda i: (i.get("name") or str(i.get(key))), reverse=bool(params.get("reverseOrder")))
    return {key: items}


class Registry:
    """Registered domains and types (pure data, no clock)."""

    region = "us-east-1"  # of the request being answered, set by the engine: ARNs name it

    def __init__(self) -> None:
        self.domains: dict[str, dict[str, Any]] = {}
        self.types: dict[tuple[str, str, str, str], dict[str, Any]] = {}  # (kind, domain, name, version)

    def domain(self, name: str, *, registered: bool = False) -> dict[str, Any]:
        d = self.domains.get(name)
        if d is None:
            raise SWFFault("UnknownResourceFault", f"Unknown domain: {name}")
        if registered and d["status"] != "REGISTERED":
            raise SWFFault("DomainDeprecatedFault", f"Domain is deprecated: {name}")
        return d

    def get_type(self, kind: str, domain: str, t: dict[str, str]) -> dict[str, Any] | None:
        return self.types.get((kind, domain, t["name"], t["version"]))

    def type_or_fault(self, kind: str, domain: str, t: dict[str, str]) -> dict[str, Any]:
        self.domain(domain)
        rec = self.get_type(kind, domain, t)
        if rec is None:
            raise SWFFault("UnknownResourceFault",
                           f"Unknown type: {kind.capitalize()}Type=[name={t['name']}, version={t['version']}]")
        return rec

    # --- domains
    def register_domain(self, p: dict[str, Any], now: float) -> dict[str, Any]:
        if p["name"] in self.domains:
            raise SWFFault("DomainAlreadyExistsFault", p["name"])
        tags = merged([], p.get("tags") or [])
        self.domains[p["name"]] = {
            "name": p["name"], "status": "REGISTERED", "description": p.get("description"),
            "retention": p["workflowExecutionRetentionPeriodInDays"], "tags": tags,
        }
        return {}

    def _domain_info(self, d: dict[str, Any]) -> dict[str, Any]:
        arn = f"arn:aws:swf:{self.region}:000000000000:/domain/{d['name']}"
        info = {"name": d["name"], "status": d["status"], "arn": arn}
        if d["description"]:
            info["description"] = d["description"]
        return info

    def describe_domain(self, p: dict[str, Any]) -> dict[str, Any]:
        d = self.domain(p["name"])
        return {"domainInfo": self._domain_info(d),
                "configuration": {"workflowExecutionRetentionPeriodInDays": d["retention"]}}

    def list_domains(self, p: dict[str, Any]) -> dict[str, Any]:
        items = [self._domain_info(d) for d in self.domains.values() if d["status"] == p["registrationStatus"]]
        return _page(items, "domainInfos", p)

    def set_domain_status(self, p: dict[str, Any], status: str) -> dict[str, Any]:
        d = self.domain(p["name"])
        if d["status"] == status:
            fault = "DomainDeprecatedFault" if status == "DEPRECATED" else "DomainAlreadyExistsFault"
            raise SWFFault(fault, p["name"])
        d["status"] = status
        return {}

    # --- types
    def register_type(self, kind: str, p: dict[str, Any], now: float) -> dict[str, Any]:
        self.domain(p["domain"], registered=True)
        key = (kind, p["domain"], p["name"], p["version"])
        if key in self.types:
            raise SWFFault("TypeAlreadyExistsFault", f"{kind} type exists: {p['name']} {p['version']}")
        names = _WF_DEFAULTS if kind == "workflow" else _ACT_DEFAULTS
        self.types[key] = {
            "type": {"name": p["name"], "version": p["version"]}, "status": "REGISTERED",
            "description": p.get("description"), "creation": now, "deprecation": None,
            "config": {n: p[n] for n in names if n in p},
        }
        return {}

    def _type_info(self, kind: str, rec: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {f"{kind}Type": dict(rec["type"]), "status": rec["status"],
                                "creationDate": to_datetime(rec["creation"])}
        if rec["description"]:
            info["description"] = rec["description"]
        if rec["deprecation"] is not None:
            info["deprecationDate"] = to_datetime(rec["deprecation"])
        return info

    def describe_type(self, kind: str, p: dict[str, Any]) -> dict[str, Any]:
        rec = self.type_or_fault(kind, p["domain"], p[f"{kind}Type"])
        return {"typeInfo": self._type_info(kind, rec), "configuration": dict(rec["config"])}

    def list_types(self, kind: str, p: dict[str, Any]) -> dict[str, Any]:
        self.domain(p["domain"])
        items = [
            self._type_info(kind, rec) for (k, dom, name, _), rec in self.types.items()
            if k == kind and dom == p["domain"] and rec["status"] == p["registrationStatus"]
            and ("name" not in p or name == p["name"])
        ]
        items.sort(key=lambda i: (i[f"{kind}Type"]["name"], i[f"{kind}Type"]["version"]),
                   reverse=bool(p.get("reverseOrder")))
        return {"typeInfos": items}

    def set_type_status(self, kind: str, p: dict[str, Any], status: str, now: float) -> dict[str, Any]:
        rec = self.type_or_fault(kind, p["domain"], p[f"{kind}Type"])
        if rec["status"] == status:
            fault = "TypeDeprecatedFault" if status == "DEPRECATED" else "TypeAlreadyExistsFault"
            raise SWFFault(fault, f"{kind} type is already {status}")
        rec["status"] = status
        rec["deprecation"] = now if status == "DEPRECATED" else None
        return {}

    def delete_type(self, kind: str, p: dict[str, Any]) -> dict[str, Any]:
        rec = self.type_or_fault(kind, p["domain"], p[f"{kind}Type"])
        if rec["status"] != "DEPRECATED":
            raise SWFFault("TypeNotDeprecatedFault", f"{kind} type must be deprecated first")
        t = p[f"{kind}Type"]
        del self.types[(kind, p["domain"], t["name"], t["version"])]
        return {}
