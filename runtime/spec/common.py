"""What every part of the spec shares: the base model, constrained string types, model URIs and
the cross-field error that points at a key below the model raising it."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

PROJECT = "ml-serving"
SECRET_PLACEHOLDER = "[secret]"

_DNS_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
_QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$"
_MODEL_URI = re.compile(
    r"^models:/(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]*)(?:/(?P<version>[1-9][0-9]*)|@(?P<alias>[A-Za-z][A-Za-z0-9_\-]*))$"
)

DnsName = Annotated[str, StringConstraints(pattern=_DNS_LABEL, max_length=40)]
ServiceAccountRef = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
]
"""A Kubernetes service account as ``namespace/name``: a workload's identity in the mesh."""
Quantity = Annotated[str, StringConstraints(pattern=_QUANTITY)]
Cidr = Annotated[str, StringConstraints(pattern=r"^([0-9]{1,3}\.){3}[0-9]{1,3}/([0-9]|[12][0-9]|3[0-2])$")]
Scalar = float | int | str | bool


def problem(at: str, message: str) -> PydanticCustomError:
    """A cross-field error that points below the model that raised it (``at`` is relative)."""
    return PydanticCustomError("spec", message, {"at": at})


class SpecModel(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
    )


def pinned(value: str, what: str) -> str:
    tag = value.rsplit("@", 1)[-1] if "@" in value else value.rsplit(":", 1)[-1] if ":" in value.split("/")[-1] else ""
    if not tag or tag.lower() == "latest":
        raise ValueError(
            f"{what} must be pinned to a version tag or digest, never 'latest' or untagged (got {value!r})"
        )
    return value


class ModelUri(SpecModel):
    """A parsed ``models:/<name>/<version>`` or ``models:/<name>@<alias>``."""

    name: str
    version: int | None = None
    alias: str | None = None

    @property
    def uri(self) -> str:
        return (
            f"models:/{self.name}/{self.version}" if self.version is not None else f"models:/{self.name}@{self.alias}"
        )


def parse_model_uri(uri: str) -> ModelUri:
    match = _MODEL_URI.match(uri)
    if match is None:
        raise ValueError(f"expected 'models:/<name>/<version>' or 'models:/<name>@<alias>', got {uri!r}")
    version = match["version"]
    return ModelUri(name=match["name"], version=int(version) if version else None, alias=match["alias"])
