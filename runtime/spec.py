"""The rollout spec: the one typed, validated definition of a stack.

A stack file (``stacks/Pulumi.<env>.yaml``) holds two project keys, ``ml-serving:platform`` and
``ml-serving:models``. They are validated here, once, into frozen models that the Pulumi
components, the policies, the gateway, the drift monitor and the local platform all share.

Keys are camelCase in YAML and snake_case in Python; units live in field names. Problems are
reported one per line, each naming the stack file, the key path and what was expected.

This module depends on pydantic, PyYAML and the standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from runtime.errors import SpecError

__all__ = [
    "PROJECT",
    "StackSpec",
    "PlatformSpec",
    "ModelSpec",
    "Variant",
    "Experiment",
    "Guardrails",
    "Progressive",
    "ModelUri",
    "parse_model_uri",
    "load_stack",
    "load_stack_file",
    "read_stack_config",
    "stack_file",
    "existing_stack_file",
    "validate_config",
    "SECRET_PLACEHOLDER",
    "required_secrets",
    "require_secrets",
]

PROJECT = "ml-serving"
SECRET_PLACEHOLDER = "[secret]"
STACKS_DIR = Path(__file__).resolve().parent.parent / "stacks"

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


def _problem(at: str, message: str) -> PydanticCustomError:
    """A cross-field error that points below the model that raised it (``at`` is relative)."""
    return PydanticCustomError("spec", message, {"at": at})


class _Spec(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
    )


def _pinned(value: str, what: str) -> str:
    tag = value.rsplit("@", 1)[-1] if "@" in value else value.rsplit(":", 1)[-1] if ":" in value.split("/")[-1] else ""
    if not tag or tag.lower() == "latest":
        raise ValueError(
            f"{what} must be pinned to a version tag or digest, never 'latest' or untagged (got {value!r})"
        )
    return value


# --- models ---------------------------------------------------------------------------------


class ModelUri(_Spec):
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


class Variant(_Spec):
    model: str
    """The registered model version: ``models:/<name>/<version>`` or ``models:/<name>@<alias>``."""
    role: Literal["primary", "canary", "shadow"]
    """primary and canary share live traffic by weight; a shadow gets a mirrored copy only."""
    weight: Annotated[float, Field(ge=0, le=100)] | None = None
    """Percent of live traffic (primary and canary only). Primary and canaries sum to 100."""
    mirror_percent: Annotated[float, Field(gt=0, le=100)] | None = None
    """Percent of live requests mirrored to this shadow (shadow only)."""
    name: DnsName | None = None
    """Variant name used in resource names and responses; defaults to ``v<version>`` or the alias."""

    @field_validator("model")
    @classmethod
    def _uri(cls, value: str) -> str:
        parse_model_uri(value)
        return value

    @model_validator(mode="after")
    def _role_fields(self) -> Variant:
        if self.role == "shadow":
            if self.weight is not None:
                raise _problem(
                    "weight", "a shadow variant takes no weight (it gets mirrored traffic only); use mirrorPercent"
                )
            if self.mirror_percent is None:
                raise _problem("mirrorPercent", "a shadow variant needs mirrorPercent, a number in (0, 100]")
        else:
            if self.mirror_percent is not None:
                raise _problem("mirrorPercent", f"only shadow variants take mirrorPercent; a {self.role} takes weight")
            if self.weight is None:
                raise _problem("weight", f"a {self.role} variant needs weight, a number in [0, 100]")
        return self

    @property
    def uri(self) -> ModelUri:
        return parse_model_uri(self.model)

    @property
    def variant_name(self) -> str:
        if self.name:
            return self.name
        uri = self.uri
        if uri.version is not None:
            return f"v{uri.version}"
        return re.sub(r"[^a-z0-9-]", "-", uri.alias.lower()).strip("-") or "alias"


class Batching(_Spec):
    max_batch_size: Annotated[int, Field(gt=0, le=4096)]
    """Most rows in one predict call."""
    max_latency_ms: Annotated[float, Field(gt=0, le=1000)]
    """Longest a waiting request is held to gather a batch, from the first waiting request."""


class Resources(_Spec):
    cpu: Quantity = "1"
    """CPU request and limit, as a Kubernetes quantity."""
    memory: Quantity = "2Gi"
    """Memory request and limit, as a Kubernetes quantity."""
    gpu: Annotated[int, Field(ge=0, le=8)] = 0
    """NVIDIA GPUs per replica; above 0 the predictor lands on the GPU node group."""
    half_precision: bool = False
    """Run a torch model in FP16 when it is on a GPU (ignored on a CPU, where FP16 is slower)."""


class Autoscaling(_Spec):
    min: Annotated[int, Field(ge=0)] = 1
    """Fewest replicas per variant (0 lets an idle variant scale to zero)."""
    max: Annotated[int, Field(ge=1)] = 3
    """Most replicas per variant."""
    target_concurrency: Annotated[int, Field(gt=0)] | None = None
    """In-flight requests per replica that the autoscaler aims for; CPU utilisation when unset."""

    @model_validator(mode="after")
    def _order(self) -> Autoscaling:
        if self.min > self.max:
            raise _problem("min", f"min ({self.min}) must not exceed max ({self.max})")
        return self


class Routing(_Spec):
    sticky_key: Annotated[str, StringConstraints(min_length=1)] | None = None
    """Input name whose value pins a caller to a variant (e.g. ``user_id`` for A/B tests)."""
    sticky_header: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]+$")] | None = None
    """Header that carries the routing key; it wins over the input when both are present."""


class FallbackCondition(_Spec):
    input: Annotated[str, StringConstraints(min_length=1)]
    """Input name whose value (per row) is compared."""
    op: Literal["lt", "le", "gt", "ge", "eq", "ne", "in"]
    value: Scalar | list[Scalar]
    """Operand: a scalar, or a list for ``in``."""

    @model_validator(mode="after")
    def _operand(self) -> FallbackCondition:
        if (self.op == "in") != isinstance(self.value, list):
            expected = "a list" if self.op == "in" else "a single value"
            raise _problem("value", f"op '{self.op}' takes {expected}")
        return self


class FallbackRule(_Spec):
    when: FallbackCondition
    then: Scalar
    """Output for a row that matches."""


class Fallback(_Spec):
    value: Scalar
    """Output for every row that no rule matches (e.g. 0, "not fraud")."""
    rules: list[FallbackRule] = []
    """Checked in order per row; the first match gives the row's output. No code is evaluated."""


class CircuitBreaker(_Spec):
    failure_threshold: Annotated[int, Field(gt=0)] = 5
    """Consecutive failures that open the breaker of a variant."""
    cooldown_ms: Annotated[float, Field(gt=0)] = 5000
    """How long an open breaker rejects calls before one half-open probe."""
    failure_rate_percent: Annotated[float, Field(gt=0, le=100)] | None = None
    """Also open when this share of the last ``window_calls`` calls failed (at least
    ``minimum_calls`` of them made): at thousands of requests per second a steady few-percent
    error rate makes runs of consecutive failures common, so set ``failure_threshold`` high and
    trip on the rate instead. Unset: consecutive failures only."""
    window_calls: Annotated[int, Field(gt=0)] = 100
    """Calls the failure rate is measured over (the most recent ones)."""
    minimum_calls: Annotated[int, Field(gt=0)] = 20
    """Calls in the window before the failure rate may open the breaker."""

    @model_validator(mode="after")
    def _minimum_fits_the_window(self) -> CircuitBreaker:
        if self.minimum_calls > self.window_calls:
            raise _problem(
                "minimumCalls",
                f"is {self.minimum_calls} but the window holds {self.window_calls} calls; expected at most windowCalls",
            )
        return self


class Shadow(_Spec):
    max_concurrency: Annotated[int, Field(gt=0)] = 16
    """In-flight mirrored requests per model; more are dropped and counted."""
    timeout_ms: Annotated[float, Field(gt=0)] = 1000
    """Longest a mirrored request may take before it counts as an error."""
    compare_outputs: Annotated[list[Annotated[str, StringConstraints(min_length=1)]], Field(min_length=1)] | None = None
    """Outputs a shadow must match for its answer to agree (all when unset), e.g. ``[class]`` for a
    classifier whose scores always differ a little between versions."""


class FeatureDrift(_Spec):
    test: Literal["ks", "chi2", "psi", "wasserstein"]
    """Test for this feature, overriding the default for its type and size."""
    threshold: Annotated[float, Field(gt=0)] | None = None
    """For distances (psi, wasserstein): the value at or above which the feature drifted."""


class Drift(_Spec):
    enabled: bool = True
    window_rows: Annotated[int, Field(gt=0)] = 5000
    """Rows per comparison window."""
    p_value: Annotated[float, Field(gt=0, lt=1)] = 0.05
    """Significance level of the per-feature tests, after the correction below."""
    drift_share: Annotated[float, Field(gt=0, le=1)] = 0.3
    """Share of drifted features at which the whole dataset counts as drifted."""
    correction: Literal["bh", "bonferroni"] = "bh"
    """Multiple-testing correction across features: Benjamini-Hochberg (false discovery rate) or
    Bonferroni (family-wise error rate)."""
    features: dict[str, FeatureDrift] = {}
    """Per-feature test overrides."""
    prediction_drift: bool = True
    """Also test the distribution of the model's outputs."""


class Guardrails(_Spec):
    """Limits arm B must keep against arm A before it may be called the winner (from the gateway)."""

    max_error_rate_increase: Annotated[float, Field(ge=0, le=1)] = 0.01
    """Most that B's error rate may exceed A's (0.01: one point)."""
    max_fallback_rate_increase: Annotated[float, Field(ge=0, le=1)] = 0.01
    """Most that B's fallback rate may exceed A's."""
    max_p99_ms: Annotated[float, Field(gt=0)] | None = None
    """Highest p99 latency of either arm; the model's latencyBudgetMs when unset."""


class Experiment(_Spec):
    """A sticky A/B test between the primary (arm A, the control) and the one canary (arm B)."""

    outcome: Literal["click", "conversion"] = "click"
    """The outcome event whose rate per user decides: a user converts with their first such event."""
    minimum_detectable_lift: Annotated[float, Field(gt=0, le=10)] = 0.05
    """Smallest relative lift of that rate worth finding (0.05: 5%); tunes the sequential test and
    sets the users per arm the readout says it needs."""
    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.05
    """False positive rate of the always-valid sequential test, however often it is looked at."""
    power: Annotated[float, Field(ge=0.5, lt=1)] = 0.8
    """Chance of finding the minimum detectable lift at the stated sample size."""
    srm_p_value: Annotated[float, Field(gt=0, lt=0.5)] = 0.001
    """Sample-ratio mismatch is flagged below this p-value (chi-square of users against weights)."""
    max_users: Annotated[int, Field(gt=0)] = 1_000_000
    """Users remembered (bounded memory); later new users are counted as untracked, not analysed."""
    guardrails: Guardrails = Guardrails()


class Progressive(_Spec):
    """Automated canary promotion: ``promote --stack <env>`` moves the one canary through ``steps``
    from the fleet's metrics (Prometheus), or rolls it back, as an edit of the stack file."""

    steps: Annotated[list[Annotated[float, Field(gt=0, le=100)]], Field(min_length=1)] = [5, 10, 25, 50, 100]
    """Canary weights in percent, increasing, ending at 100 (there the canary becomes primary)."""
    min_samples_per_step: Annotated[int, Field(gt=0)] = 2000
    """Calls the canary must have answered or failed at a step before it may move to the next."""
    interval_s: Annotated[float, Field(gt=0)] = 300
    """How often promotion is evaluated (the schedule of the promote workflow)."""
    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.05
    """False rollback rate of the always-valid sequential error test, however often it is looked at."""
    max_error_rate_increase: Annotated[float, Field(gt=0, le=1)] = 0.01
    """Most that the canary's error rate may exceed the primary's (0.01: one point); promotion
    needs the confidence sequence of the difference to lie below it."""
    max_p99_ratio: Annotated[float, Field(gt=1)] = 1.2
    """Highest canary p99 latency as a multiple of the primary's p99."""
    p99_action: Literal["hold", "rollback"] = "rollback"
    """What a canary over ``maxP99Ratio`` gets once it has the minimum samples."""
    max_fallback_rate: Annotated[float, Field(ge=0, le=1)] = 0.05
    """Highest share of the model's answers that are fallbacks while the canary is live; above it
    (Wilson lower bound) the canary is rolled back."""
    min_shadow_agreement: Annotated[float, Field(gt=0, le=1)] = 0.99
    """A shadow whose agreement with the served answer is at least this (Wilson lower bound), with
    p99 latency within ``maxP99Ratio``, is proposed as the next canary."""

    @field_validator("steps")
    @classmethod
    def _steps(cls, value: list[float]) -> list[float]:
        if any(b <= a for a, b in zip(value, value[1:])):
            raise ValueError(f"steps must increase strictly, got {value}")
        if value[-1] != 100:
            raise ValueError(f"steps must end at 100 (where the canary becomes primary), got {value}")
        return value


class ModelSpec(_Spec):
    variants: Annotated[list[Variant], Field(min_length=1)]
    """Versions served: exactly one primary, any canaries, any shadows."""
    latency_budget_ms: Annotated[float, Field(gt=0)]
    """The whole answer, retries included, within this many milliseconds; then the fallback."""
    fallback: Fallback | None = None
    """Answer given when no variant answers within the budget; without it such a request fails (503)."""
    batching: Batching | None = None
    """Adaptive batching in the model server; unset serves each request alone."""
    resources: Resources = Resources()
    autoscaling: Autoscaling = Autoscaling()
    routing: Routing = Routing()
    circuit_breaker: CircuitBreaker = CircuitBreaker()
    shadow: Shadow = Shadow()
    drift: Drift = Drift()
    expected_rps: Annotated[float, Field(ge=0)] | None = None
    """Expected live requests per second, averaged over a month (the cost estimate sizes the
    variants' replicas from it and prices a million predictions)."""
    replica_rps: Annotated[float, Field(gt=0)] | None = None
    """Requests per second one replica sustains within the latency budget (measured, e.g. with
    bench/modelserver.py); the cost estimate falls back to benchmark results when unset."""
    experiment: Experiment | None = None
    """An A/B test of the canary against the primary; needs sticky routing and exactly those two live variants."""
    progressive: Progressive | None = None
    """Automated canary promotion and rollback from measurements; unset leaves weights to people."""

    @model_validator(mode="after")
    def _invariants(self) -> ModelSpec:
        primaries = [i for i, v in enumerate(self.variants) if v.role == "primary"]
        if len(primaries) != 1:
            found = ", ".join(f"variants[{i}]" for i in primaries) or "none"
            raise _problem(
                "variants", f"exactly one variant must have role 'primary' (found {len(primaries)}: {found})"
            )
        live = [(i, v) for i, v in enumerate(self.variants) if v.role != "shadow"]
        total = sum(v.weight or 0 for _, v in live)
        if abs(total - 100) > 1e-9:
            parts = " + ".join(f"variants[{i}] {v.weight:g}" for i, v in live)
            raise _problem(
                "variants", f"weights of primary and canary variants must sum to 100 (got {parts} = {total:g})"
            )
        seen: dict[str, int] = {}
        for i, variant in enumerate(self.variants):
            name = variant.variant_name
            if name in seen:
                raise _problem(
                    f"variants[{i}].name",
                    f"variant name '{name}' is already used by variants[{seen[name]}]; set a distinct name",
                )
            seen[name] = i
        if self.experiment is not None:
            self._experiment_rules(live)
        if self.progressive is not None:
            canaries = [i for i, v in live if v.role == "canary"]
            if self.experiment is not None:
                raise _problem(
                    "progressive", "a model runs an experiment (fixed arms) or progressive delivery, not both"
                )
            if len(canaries) > 1:
                raise _problem(
                    "progressive", f"progressive delivery moves one canary at a time (found {len(canaries)})"
                )
        return self

    def _experiment_rules(self, live: list[tuple[int, Variant]]) -> None:
        if not (self.routing.sticky_key or self.routing.sticky_header):
            raise _problem(
                "routing", "an experiment needs sticky routing: set routing.stickyKey (e.g. user_id) or stickyHeader"
            )
        canaries = [i for i, v in live if v.role == "canary"]
        if len(canaries) != 1:
            raise _problem(
                "experiment", f"an experiment compares the primary with exactly one canary (found {len(canaries)})"
            )
        zero = [i for i, v in live if not v.weight]
        if zero:
            raise _problem(f"variants[{zero[0]}].weight", "an experiment's arms need weights above 0")

    @property
    def arms(self) -> tuple[str, str] | None:
        """(A, B) variant names of the experiment: the primary and the canary; None without one."""
        if self.experiment is None:
            return None
        return self.primary.variant_name, next(v.variant_name for v in self.variants if v.role == "canary")

    @property
    def primary(self) -> Variant:
        return next(v for v in self.variants if v.role == "primary")

    @property
    def live_variants(self) -> list[Variant]:
        return [v for v in self.variants if v.role != "shadow"]

    @property
    def shadows(self) -> list[Variant]:
        return [v for v in self.variants if v.role == "shadow"]


# --- platform -------------------------------------------------------------------------------


class NodeGroup(_Spec):
    instance_types: Annotated[list[str], Field(min_length=1)]
    """EC2 instance types of the group."""
    min: Annotated[int, Field(ge=0)]
    max: Annotated[int, Field(ge=1)]
    disk_size_gb: Annotated[int, Field(ge=20)] = 50
    capacity_type: Literal["ON_DEMAND", "SPOT"] = "ON_DEMAND"
    """EC2 purchase option of the group's nodes (EKS managed node group ``capacityType``)."""

    @model_validator(mode="after")
    def _order(self) -> NodeGroup:
        if self.min > self.max:
            raise _problem("min", f"min ({self.min}) must not exceed max ({self.max})")
        return self


class Vpc(_Spec):
    cidr_block: str = "10.0.0.0/16"
    """CIDR of the VPC created when no subnets are given."""
    private_subnet_ids: list[str] = []
    """Existing private subnets (nodes, RDS); when set, no VPC is created."""
    public_subnet_ids: list[str] = []
    """Existing public subnets (load balancers)."""
    availability_zones: Annotated[int, Field(ge=2, le=6)] = 3


class ClusterAccess(_Spec):
    """An IAM role let into the EKS cluster's Kubernetes API (an EKS access entry)."""

    principal_arn: Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")]
    """The role, e.g. the workflows' deploy and preview roles of this environment."""
    policy: Literal["admin", "edit", "view"] = "admin"
    """EKS access policy, cluster-wide: AmazonEKSClusterAdminPolicy, AmazonEKSEditPolicy or
    AmazonEKSViewPolicy. A preview's server-side dry runs need the same write rights as the
    update, so a preview role needs ``admin`` too (``view`` cannot preview a change)."""


class Cluster(_Spec):
    provider: Literal["eks", "existing"]
    """``eks`` creates an EKS cluster; ``existing`` targets the current kubeconfig context."""
    kubernetes_version: str = "1.32"
    kubeconfig_context: str | None = None
    """Context to use with ``provider: existing``; the current context when unset."""
    endpoint_private_access: bool = True
    endpoint_public_access: bool = True
    public_access_cidrs: list[Cidr] = []
    """Where the public API endpoint answers from (the deploy runners' egress); empty: anywhere."""
    runner_in_vpc: bool = False
    """``pulumi up`` runs inside the VPC of ``vpc.privateSubnetIds`` and reaches a private-only endpoint."""
    vpc: Vpc = Vpc()
    cpu_nodes: NodeGroup | None = None
    gpu_nodes: NodeGroup | None = None
    node_autoscaler: Literal["cluster-autoscaler", "karpenter"] = "cluster-autoscaler"
    access: tuple[ClusterAccess, ...] = ()
    """Roles with access entries (``authenticationMode: API`` admits no one else, not even the
    creator after the bootstrap entry is gone)."""

    @model_validator(mode="after")
    def _eks_needs_nodes(self) -> Cluster:
        if self.provider == "eks" and self.cpu_nodes is None:
            raise _problem("cpuNodes", "provider 'eks' needs cpuNodes: {instanceTypes: [...], min: N, max: N}")
        if not (self.endpoint_private_access or self.endpoint_public_access):
            raise _problem(
                "endpointPublicAccess", "at least one of endpointPrivateAccess and endpointPublicAccess must be true"
            )
        if self.provider == "eks" and self.runner_in_vpc and not self.vpc.private_subnet_ids:
            raise _problem(
                "runnerInVpc",
                "runnerInVpc needs vpc.privateSubnetIds of the existing VPC the runner is in "
                "(a VPC this program creates has no runner inside it on the first run)",
            )
        if self.provider == "eks" and not self.endpoint_public_access and not self.runner_in_vpc:
            raise _problem(
                "endpointPublicAccess",
                "a private-only API endpoint cannot be reached from where `pulumi up` runs; set "
                "endpointPublicAccess: true with publicAccessCidrs (the runners' egress CIDRs), or "
                "runnerInVpc: true with vpc.privateSubnetIds of the VPC the runner is in",
            )
        if self.public_access_cidrs and not self.endpoint_public_access:
            raise _problem("publicAccessCidrs", "publicAccessCidrs needs endpointPublicAccess: true")
        return self


class Artifacts(_Spec):
    bucket_name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")] | None = None
    """S3 bucket name; Pulumi picks a unique one when unset."""
    retain_on_delete: bool = False
    """Keep the bucket when the stack is destroyed (set in prod)."""
    noncurrent_version_days: Annotated[int, Field(gt=0)] = 30
    """Days before noncurrent object versions expire."""


class Rds(_Spec):
    instance_class: str = "db.t4g.medium"
    allocated_storage_gb: Annotated[int, Field(ge=20)] = 20
    multi_az: bool = False
    engine_version: str = "16"
    backup_retention_days: Annotated[int, Field(ge=0, le=35)] = 7


class Mlflow(_Spec):
    backend: Literal["rds", "postgres", "sqlite"]
    """rds: managed Postgres; postgres: an in-cluster Postgres; sqlite: local platform only."""
    tracking_uri: Annotated[str, StringConstraints(pattern=r"^(https?|file|sqlite)://")]
    """Where training scripts and the lock command reach the registry."""
    rds: Rds = Rds()
    replicas: Annotated[int, Field(ge=1)] = 1
    writers: list[ServiceAccountRef] = []
    """Service accounts (``namespace/name``) of the training and CI jobs in the cluster: the only
    identities the mesh lets write to the registry. The platform's own parts (predictors, the
    drift monitor) may only read; every other workload is refused."""
    auth: bool = True
    """MLflow's own auth app (basic auth) in front of every request but ``/health``: people sign
    in; the admin account's password is generated into a Secret (``mlflow-auth``), and the
    platform's parts read as a reader account created at start-up."""


class Versions(_Spec):
    """Pinned Helm chart and image versions; never 'latest'."""

    istio: str = "1.28.1"
    kserve: str = "v0.16.0"
    cert_manager: str = "v1.19.1"
    nvidia_device_plugin: str = "0.18.0"
    cluster_autoscaler: str = "9.52.1"
    aws_load_balancer_controller: str = "3.5.0"
    """Chart of the controller that gives the ingress gateway's Service its NLB."""
    karpenter: str = "1.8.2"
    mlflow: str = "3.18.0"
    postgres: str = "16.10"

    @field_validator("*")
    @classmethod
    def _no_latest(cls, value: str) -> str:
        if not value or value.strip().lower() in {"latest", "*", "stable"} or not re.search(r"\d", value):
            raise ValueError(f"expected a pinned version such as '1.28.1', got {value!r}")
        return value


class Images(_Spec):
    runtime: str
    """The runtime image (model server, gateway, drift monitor, MLflow server), pinned by tag or digest."""
    build: bool = False
    """Build and push the runtime image from this repository during ``pulumi up``."""

    runtime_gpu: str | None = None
    """The runtime image built with a CUDA torch (``runtime/Dockerfile``, ``TORCH_INDEX`` of a CUDA
    build) for predictors with ``resources.gpu`` above 0; they use ``runtime`` when unset."""

    @field_validator("runtime")
    @classmethod
    def _pinned_image(cls, value: str) -> str:
        return _pinned(value, "images.runtime")

    @field_validator("runtime_gpu")
    @classmethod
    def _pinned_gpu_image(cls, value: str | None) -> str | None:
        return None if value is None else _pinned(value, "images.runtimeGpu")


class GatewaySettings(_Spec):
    replicas: Annotated[int, Field(ge=1)] = 2
    max_replicas: Annotated[int, Field(ge=1)] = 6
    host: str = "*"
    """Host name the Istio ingress gateway serves the gateway on."""
    auth_required: bool = True
    """Bearer-token auth on the gateway (tokens from the ``gatewayTokens`` secret)."""
    max_body_bytes: Annotated[int, Field(gt=0)] = 1_048_576
    resources: Resources = Resources(cpu="1", memory="512Mi")


class MonitorSettings(_Spec):
    storage_gb: Annotated[int, Field(ge=1)] = 5
    resources: Resources = Resources(cpu="500m", memory="1Gi")
    prometheus_rule: bool = False
    """Ship the drift alert rules (runtime/drift/alerts.yaml) as a PrometheusRule; needs the
    Prometheus Operator's CRDs in the cluster (kube-prometheus-stack)."""
    clients: list[ServiceAccountRef] = []
    """Service accounts (``namespace/name``) the mesh lets post labels and read status and reports
    (e.g. the job that joins ground truth); the gateway alone may post served rows. They still
    need the monitor's token."""


class Local(_Spec):
    """Where the embedded platform listens (loopback only)."""

    host: Literal["127.0.0.1", "localhost", "::1"] = "127.0.0.1"
    mlflow_port: Annotated[int, Field(ge=1024, le=65535)] = 5000
    gateway_port: Annotated[int, Field(ge=1024, le=65535)] = 8080
    gateway_grpc_port: Annotated[int, Field(ge=1024, le=65535)] = 8081
    """The gateway's V2 gRPC service."""
    monitor_port: Annotated[int, Field(ge=1024, le=65535)] = 8090
    model_server_base_port: Annotated[int, Field(ge=1024, le=65000)] = 9000
    prometheus_port: Annotated[int, Field(ge=1024, le=65535)] = 9090
    """Prometheus scraping every part (started when Debian's ``prometheus`` binary is installed)."""
    state_dir: str = ".state"
    """Folder (relative to the repository) for the registry, artifacts and monitor state."""


class CostUsage(_Spec):
    """What the render cannot know, per month, for the cost estimate; undeclared usage costs 0."""

    artifact_storage_gb: Annotated[float, Field(ge=0)] = 0
    """Average S3 Standard storage of the artifact bucket, noncurrent versions included."""
    artifact_put_requests: Annotated[int, Field(ge=0)] = 0
    """PUT, COPY, POST and LIST requests to the artifact bucket."""
    artifact_get_requests: Annotated[int, Field(ge=0)] = 0
    """GET and other read requests to the artifact bucket."""
    internet_egress_gb: Annotated[float, Field(ge=0)] = 0
    """Data sent from the region to the internet (responses through the load balancer)."""
    nat_processed_gb: Annotated[float, Field(ge=0)] = 0
    """Data through the NAT gateways (image pulls, calls to public endpoints)."""
    load_balancer_lcu: Annotated[float, Field(ge=0)] = 0
    """Average load balancer capacity units in use per load balancer."""
    control_plane_logs_gb: Annotated[float, Field(ge=0)] = 0
    """EKS control-plane logs ingested into CloudWatch Logs."""
    rds_backup_gb: Annotated[float, Field(ge=0)] | None = None
    """Billed RDS backup storage (beyond the free amount equal to the allocated storage); when
    unset, 1% of the allocated storage changes per day and each retained day is billed."""
    spot_discount_percent: Annotated[float, Field(ge=0, lt=100)] = 0
    """Expected spot saving against on-demand for SPOT node groups (the Price List has no spot
    prices; 0 prices spot nodes at the on-demand ceiling)."""


class CostSettings(_Spec):
    monthly_budget_usd: Annotated[float, Field(gt=0)] | None = None
    """The policy check fails a stack whose maximum monthly estimate exceeds this."""
    usage: CostUsage = CostUsage()


class PlatformSpec(_Spec):
    namespace: DnsName = "ml-serving"
    cluster: Cluster
    artifacts: Artifacts = Artifacts()
    mlflow: Mlflow
    versions: Versions = Versions()
    images: Images
    gateway: GatewaySettings = GatewaySettings()
    monitor: MonitorSettings = MonitorSettings()
    local: Local = Local()
    cost: CostSettings = CostSettings()
    """Budget and usage assumptions of the cost estimate (``python -m components.cost``)."""
    auto_merge_promotions: bool = False
    """Merge the promote workflow's pull requests by themselves once their checks pass."""


class StackSpec(_Spec):
    stack: str
    platform: PlatformSpec
    models: dict[DnsName, ModelSpec]

    @model_validator(mode="after")
    def _gpu_nodes(self) -> StackSpec:
        if self.platform.cluster.provider == "eks" and self.platform.cluster.gpu_nodes is None:
            for name, model in self.models.items():
                if model.resources.gpu > 0:
                    raise _problem(
                        f"models.{name}.resources.gpu",
                        "a GPU model needs platform.cluster.gpuNodes on provider 'eks'",
                    )
        return self


# --- loading --------------------------------------------------------------------------------


def stack_file(stack: str, stacks_dir: Path | None = None) -> Path:
    return (stacks_dir or STACKS_DIR) / f"Pulumi.{stack}.yaml"


def _key_path(loc: tuple[Any, ...], at: str | None) -> str:
    """``('models', 'fraud', 'variants', 1)`` and ``at='weight'`` -> ``ml-serving:models.fraud.variants[1].weight``."""
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
    if at:
        path = f"{path}{at}" if at.startswith("[") or not path else f"{path}.{at}"
    return f"{PROJECT}:{path}" if path else PROJECT


def _describe(error: dict[str, Any]) -> str:
    kind = error["type"]
    message = error["msg"]
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; keys are camelCase)"
    if kind == "missing":
        return "required key is missing"
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    if "input" in error and kind not in {"spec"} and not isinstance(error["input"], (dict, list)):
        return f"{message[0].lower()}{message[1:]} (got {error['input']!r})"
    return message


def _problems(source: str, exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors(include_url=False):
        at = (error.get("ctx") or {}).get("at")
        lines.append(f"{source}: {_key_path(error['loc'], at)}: {_describe(error)}")
    return lines


def validate_config(config: dict[str, Any], stack: str, source: str | None = None) -> StackSpec:
    """Validate the project keys of a stack's config (keys as in the stack file)."""
    source = source or f"stacks/Pulumi.{stack}.yaml"
    problems = []
    for key in ("platform", "models"):
        if f"{PROJECT}:{key}" not in config:
            problems.append(f"{source}: {PROJECT}:{key}: required key is missing")
    unknown = sorted(k for k in config if k.startswith(f"{PROJECT}:") and k.split(":", 1)[1] not in _PROJECT_KEYS)
    for key in unknown:
        problems.append(f"{source}: {key}: unknown key; expected one of {', '.join(sorted(_PROJECT_KEYS))}")
    if problems:
        raise SpecError(problems)
    data = {"stack": stack, "platform": config[f"{PROJECT}:platform"], "models": config[f"{PROJECT}:models"]}
    try:
        return StackSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_problems(source, exc)) from None


# Project keys that hold something other than the spec: secrets read by __main__.py.
_SECRET_KEYS = {"gatewayTokens", "alertWebhookUrl", "mlflowAdminPassword"}
_PROJECT_KEYS = {"platform", "models", *_SECRET_KEYS}


def required_secrets(spec: StackSpec) -> tuple[str, ...]:
    """The secret config keys (``ml-serving:<key>``) the program cannot deploy ``spec`` without.

    Stack files ship without them: each is set once per stack with ``pulumi config set --secret``,
    which encrypts it with the stack's ``secretsprovider``.
    """
    return (f"{PROJECT}:gatewayTokens",) if spec.platform.gateway.auth_required else ()


def require_secrets(spec: StackSpec, is_set: Callable[[str], bool], source: str | None = None) -> None:
    """Raise a ``SpecError`` naming each required secret that ``is_set`` (given the key) says is unset."""
    source = source or f"stacks/Pulumi.{spec.stack}.yaml"
    missing = [key for key in required_secrets(spec) if not is_set(key)]
    if missing:
        raise SpecError(
            [
                f"{source}: {key}: required secret is not set; set it with "
                f"`pulumi config set --secret {key} <value> --stack {spec.stack}` "
                "(the stack's secretsprovider encrypts it into the stack file)"
                for key in missing
            ]
        )


def read_stack_config(path: Path) -> tuple[dict[str, Any], set[str]]:
    """Read a stack file's ``config:`` map. ``secure:`` values become a placeholder.

    Returns the config and the set of keys whose value is a secret.
    """
    try:
        document = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SpecError([f"{path}: no such stack file"]) from None
    except yaml.YAMLError as exc:
        raise SpecError([f"{path}: not valid YAML: {' '.join(str(exc).split())}"]) from None
    if not isinstance(document, dict) or not isinstance(document.get("config", {}), dict):
        raise SpecError([f"{path}: expected a mapping with a 'config:' mapping"])
    config: dict[str, Any] = {}
    secrets: set[str] = set()
    for key, value in (document.get("config") or {}).items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            secrets.add(key)
            value = SECRET_PLACEHOLDER
        elif _has_secure(value):
            secrets.add(key)
        config[key] = value
    return config, secrets


def _has_secure(value: Any) -> bool:
    if isinstance(value, dict):
        return "secure" in value and len(value) == 1 or any(_has_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secure(v) for v in value)
    return False


def load_stack_file(path: Path) -> StackSpec:
    stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    config, _ = read_stack_config(path)
    try:
        source = str(path.relative_to(Path.cwd()))
    except ValueError:
        source = str(path)
    return validate_config(config, stack, source)


def existing_stack_file(stack: str, stacks_dir: Path | None = None) -> Path:
    """``stacks/Pulumi.<stack>.yaml``; an unknown stack is a ``SpecError`` listing the known ones."""
    path = stack_file(stack, stacks_dir)
    if not path.exists():
        known = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in path.parent.glob("Pulumi.*.yaml"))
        raise SpecError(
            [f"unknown stack '{stack}': no {path.name} in {path.parent}; known stacks: {', '.join(known) or 'none'}"]
        )
    return path


def load_stack(stack: str, stacks_dir: Path | None = None) -> StackSpec:
    """Load and validate ``stacks/Pulumi.<stack>.yaml``."""
    return load_stack_file(existing_stack_file(stack, stacks_dir))
