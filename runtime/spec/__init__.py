"""The rollout spec: the one typed, validated definition of a stack.

A stack file (``stacks/Pulumi.<env>.yaml``) holds two project keys, ``ml-serving:platform`` and
``ml-serving:models``. They are validated here, once, into frozen models that the Pulumi
components, the policies, the gateway, the drift monitor and the local platform all share.

Keys are camelCase in YAML and snake_case in Python; units live in field names; every model of a
stack-file section is named ``<Section>Spec``. Problems are reported one per line, each naming the
stack file, the key path and what was expected.

The package depends on pydantic, PyYAML and the standard library only (and on the drift tests'
registry, ``runtime.drift.stattests``, which does too). Its modules, by concern: ``common`` (the
base model, constrained types, model URIs), ``models`` (a model's rollout), ``drift``,
``routing`` (the routing policies), ``delivery`` (experiments and progressive delivery),
``cluster``, ``platform``, ``stack`` (the whole stack) and ``loading`` (reading and validating
stack files).
"""

from runtime.spec.cluster import CLUSTER_AUTOSCALER_IMAGES, ClusterAccessSpec, ClusterSpec, NodeGroupSpec, VpcSpec
from runtime.spec.common import PROJECT, SECRET_PLACEHOLDER, ModelUri, parse_model_uri
from runtime.spec.delivery import ExperimentSpec, GuardrailsSpec, ProgressiveSpec
from runtime.spec.drift import DriftSpec, FeatureDriftSpec
from runtime.spec.loading import (
    STACKS_DIR,
    existing_stack_file,
    load_stack,
    load_stack_file,
    read_stack_config,
    require_secrets,
    required_secrets,
    stack_file,
    validate_config,
)
from runtime.spec.models import (
    AutoscalingSpec,
    BatchingSpec,
    CircuitBreakerSpec,
    FallbackConditionSpec,
    FallbackRuleSpec,
    FallbackSpec,
    ModelSpec,
    ResourcesSpec,
    ShadowSpec,
    VariantSpec,
)
from runtime.spec.platform import (
    MLFLOW_BACKENDS,
    ArtifactsSpec,
    CostSpec,
    CostUsageSpec,
    ExistingPrometheusSpec,
    GatewaySpec,
    ImagesSpec,
    LocalSpec,
    MlflowSpec,
    MonitoringSpec,
    MonitorSpec,
    PlatformSpec,
    RdsSpec,
    VersionsSpec,
)
from runtime.spec.routing import RoutingPolicySpec, RoutingSpec, StickyRoutingSpec, WeightedRoutingSpec
from runtime.spec.stack import StackSpec

__all__ = [
    "CLUSTER_AUTOSCALER_IMAGES",
    "MLFLOW_BACKENDS",
    "PROJECT",
    "SECRET_PLACEHOLDER",
    "STACKS_DIR",
    "ArtifactsSpec",
    "AutoscalingSpec",
    "BatchingSpec",
    "CircuitBreakerSpec",
    "ClusterAccessSpec",
    "ClusterSpec",
    "CostSpec",
    "CostUsageSpec",
    "DriftSpec",
    "ExistingPrometheusSpec",
    "ExperimentSpec",
    "FallbackConditionSpec",
    "FallbackRuleSpec",
    "FallbackSpec",
    "FeatureDriftSpec",
    "GatewaySpec",
    "GuardrailsSpec",
    "ImagesSpec",
    "LocalSpec",
    "MlflowSpec",
    "ModelSpec",
    "ModelUri",
    "MonitorSpec",
    "MonitoringSpec",
    "NodeGroupSpec",
    "PlatformSpec",
    "ProgressiveSpec",
    "RdsSpec",
    "ResourcesSpec",
    "RoutingPolicySpec",
    "RoutingSpec",
    "ShadowSpec",
    "StackSpec",
    "StickyRoutingSpec",
    "VariantSpec",
    "VersionsSpec",
    "VpcSpec",
    "WeightedRoutingSpec",
    "existing_stack_file",
    "load_stack",
    "load_stack_file",
    "parse_model_uri",
    "read_stack_config",
    "require_secrets",
    "required_secrets",
    "stack_file",
    "validate_config",
]
