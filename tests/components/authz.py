"""What Istio decides for a request, from rendered AuthorizationPolicies.

Istio's documented evaluation (security/authorization-policy reference): a matching DENY policy
denies; with no ALLOW policy on the workload the request is allowed; otherwise it is allowed only
when some rule of some ALLOW policy matches. A rule matches when one of its sources (``from``) and
one of its operations (``to``) match (absent lists match anything); the fields within one source
or operation must all match. Strings match exactly, by prefix (``abc*``), by suffix (``*abc``)
or by presence (``*``). ``when`` conditions are not modelled: the policies here have none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Request", "allowed"]


@dataclass(frozen=True)
class Request:
    principal: str | None
    """The caller's mTLS identity (``cluster.local/ns/<ns>/sa/<sa>``); ``None`` for plain text."""
    method: str
    path: str

    @property
    def namespace(self) -> str | None:
        parts = (self.principal or "").split("/")
        return parts[2] if len(parts) >= 5 and parts[1] == "ns" else None


def _match(pattern: str, value: str | None) -> bool:
    if value is None:
        return False
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    return value == pattern


def _any(patterns: list[str] | None, value: str | None) -> bool:
    return patterns is None or any(_match(p, value) for p in patterns)


def _none(patterns: list[str] | None, value: str | None) -> bool:
    return patterns is None or not any(_match(p, value) for p in patterns)


def _source(source: dict[str, Any], request: Request) -> bool:
    unknown = set(source) - {"principals", "notPrincipals", "namespaces", "notNamespaces"}
    if unknown:
        raise NotImplementedError(f"source fields {sorted(unknown)} are not modelled")
    return (
        _any(source.get("principals"), request.principal)
        and _none(source.get("notPrincipals"), request.principal)
        and _any(source.get("namespaces"), request.namespace)
        and _none(source.get("notNamespaces"), request.namespace)
    )


def _operation(operation: dict[str, Any], request: Request) -> bool:
    unknown = set(operation) - {"methods", "notMethods", "paths", "notPaths"}
    if unknown:
        raise NotImplementedError(f"operation fields {sorted(unknown)} are not modelled")
    return (
        _any(operation.get("methods"), request.method)
        and _none(operation.get("notMethods"), request.method)
        and _any(operation.get("paths"), request.path)
        and _none(operation.get("notPaths"), request.path)
    )


def _rule(rule: dict[str, Any], request: Request) -> bool:
    if "when" in rule:
        raise NotImplementedError("'when' conditions are not modelled")
    sources = [f.get("source", {}) for f in rule.get("from", [])]
    operations = [t.get("operation", {}) for t in rule.get("to", [])]
    return (not sources or any(_source(s, request) for s in sources)) and (
        not operations or any(_operation(o, request) for o in operations)
    )


def allowed(policies: list[dict[str, Any]], request: Request) -> bool:
    """Istio's verdict for ``request`` to a workload that ``policies`` (their specs) select."""
    for spec in policies:
        if spec.get("action", "ALLOW") == "DENY" and any(_rule(r, request) for r in spec.get("rules", [])):
            return False
    allows = [spec for spec in policies if spec.get("action", "ALLOW") == "ALLOW"]
    if not allows:
        return True
    return any(_rule(r, request) for spec in allows for r in spec.get("rules", []))
