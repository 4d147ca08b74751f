"""The ml-serving Pulumi program: read the stack config, validate it, wire the components."""

import json

import pulumi
import pulumi_kubernetes as k8s

from runtime.spec import PROJECT, validate_config

config = pulumi.Config(PROJECT)
spec = validate_config(
    {f"{PROJECT}:platform": config.require_object("platform"), f"{PROJECT}:models": config.require_object("models")},
    pulumi.get_stack(),
)

namespace = k8s.core.v1.Namespace(
    "namespace",
    metadata={"name": spec.platform.namespace, "labels": {"istio-injection": "enabled"}},
)

pulumi.export("namespace", spec.platform.namespace)
pulumi.export(
    "models",
    {name: {v.variant_name: {"uri": v.model, "role": v.role} for v in model.variants} for name, model in spec.models.items()},
)
pulumi.export("specJson", json.dumps(spec.model_dump(mode="json", by_alias=True), sort_keys=True))
