"""How the gateway picks a model's variant per request: ``routing.policy``, chosen by its ``type``.

``weighted`` (the default) draws each request by the variants' weights; ``sticky`` pins each caller
to a variant by a routing key (a header, else an input), as an A/B experiment needs. The
gateway's policies (``runtime/gateway/routing/``) are built from these, one module per type. A new
policy is a member of ``RoutingPolicySpec`` here, one module and one factory line there.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from runtime.spec.common import SpecModel, problem

__all__ = ["RoutingSpec", "RoutingPolicySpec", "WeightedRoutingSpec", "StickyRoutingSpec", "HeaderMatchRoutingSpec"]

InputName = Annotated[str, StringConstraints(min_length=1)]
HeaderName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]+$")]


class _PolicySpec(SpecModel):
    def named_variants(self) -> dict[str, str]:
        """Variant names the policy refers to, by their key below ``routing.policy``; the model
        checks that each one is one of its live variants."""
        return {}


class WeightedRoutingSpec(_PolicySpec):
    """Each request goes to a variant drawn at random by the variants' weights."""

    type: Literal["weighted"] = "weighted"


class StickyRoutingSpec(_PolicySpec):
    """A caller's routing key pins them to one variant (by a stable hash on the weights), on every
    gateway replica and across restarts; a request without a key is routed by weight."""

    type: Literal["sticky"]
    input: InputName | None = None
    """Input whose first row carries the routing key (e.g. ``user_id`` for A/B tests)."""
    header: HeaderName | None = None
    """Header (gRPC: metadata key) that carries the routing key; it wins over the input."""

    @model_validator(mode="after")
    def _has_a_key(self) -> StickyRoutingSpec:
        if self.input is None and self.header is None:
            raise problem("input", "sticky routing needs a routing key: set input (e.g. user_id), header, or both")
        return self


class HeaderMatchRoutingSpec(_PolicySpec):
    """Requests whose header carries one of ``values`` go to ``variant`` (e.g. internal testers to
    a canary of weight 0); every other request by weight."""

    type: Literal["headerMatch"]
    header: HeaderName
    values: Annotated[list[Annotated[str, StringConstraints(min_length=1)]], Field(min_length=1)]
    """Header values that match, compared exactly."""
    variant: Annotated[str, StringConstraints(min_length=1)]
    """The live variant (by name) that matching requests go to."""

    def named_variants(self) -> dict[str, str]:
        return {"variant": self.variant}


RoutingPolicySpec = Annotated[
    WeightedRoutingSpec | StickyRoutingSpec | HeaderMatchRoutingSpec, Field(discriminator="type")
]

_MOVED = {"stickyKey": "input", "sticky_key": "input", "stickyHeader": "header", "sticky_header": "header"}


class RoutingSpec(SpecModel):
    policy: RoutingPolicySpec = WeightedRoutingSpec()
    """How each request's variant is chosen."""

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            moved = {new: data[old] for old, new in _MOVED.items() if old in data}
            if moved:
                first = next(old for old in _MOVED if old in data)
                keys = ", ".join(f"{k}: {v}" for k, v in moved.items())
                raise problem(
                    first, f"moved into the routing policy; write routing: {{policy: {{type: sticky, {keys}}}}}"
                )
        return data

    @property
    def sticky(self) -> StickyRoutingSpec | None:
        """The sticky policy, when the model routes by a key."""
        return self.policy if isinstance(self.policy, StickyRoutingSpec) else None
