"""A whole stack: its platform and its models, and the rules that span both."""

from __future__ import annotations

from pydantic import model_validator

from runtime.spec.common import DnsName, SpecModel, problem
from runtime.spec.models import ModelSpec
from runtime.spec.platform import PlatformSpec


class StackSpec(SpecModel):
    stack: str
    platform: PlatformSpec
    models: dict[DnsName, ModelSpec]

    @model_validator(mode="after")
    def _gpu_nodes(self) -> StackSpec:
        if self.platform.cluster.provider == "eks" and self.platform.cluster.gpu_nodes is None:
            for name, model in self.models.items():
                if model.resources.gpu > 0:
                    raise problem(
                        f"models.{name}.resources.gpu",
                        "a GPU model needs platform.cluster.gpuNodes on provider 'eks'",
                    )
        return self
