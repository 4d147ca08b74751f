"""The platform around the models: artifacts, MLflow, pinned versions and images, the gateway and
drift monitor deployments, the local platform's ports and the cost assumptions."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator
from pydantic.alias_generators import to_camel

from runtime.spec.cluster import ClusterSpec
from runtime.spec.common import DnsName, ServiceAccountRef, SpecModel, pinned, problem
from runtime.spec.models import ResourcesSpec

MLFLOW_BACKENDS = {"eks": ("rds", "postgres"), "existing": ("postgres", "sqlite")}
"""The MLflow backends each cluster provider realizes: an EKS cluster has no volume a SQLite file
may live on across nodes, and an existing cluster has no RDS subnets to put a database in."""


class ArtifactsSpec(SpecModel):
    bucket_name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")] | None = None
    """S3 bucket name; Pulumi picks a unique one when unset."""
    retain_on_delete: bool = False
    """Keep the bucket when the stack is destroyed (set in prod)."""
    noncurrent_version_days: Annotated[int, Field(gt=0)] = 30
    """Days before noncurrent object versions expire."""


class RdsSpec(SpecModel):
    instance_class: str = "db.t4g.medium"
    allocated_storage_gb: Annotated[int, Field(ge=20)] = 20
    multi_az: bool = False
    engine_version: str = "16"
    backup_retention_days: Annotated[int, Field(ge=0, le=35)] = 7


class MlflowSpec(SpecModel):
    backend: Literal["rds", "postgres", "sqlite"]
    """rds: managed Postgres; postgres: an in-cluster Postgres; sqlite: local platform only."""
    tracking_uri: Annotated[str, StringConstraints(pattern=r"^(https?|file|sqlite)://")]
    """Where training scripts and the lock command reach the registry."""
    rds: RdsSpec = RdsSpec()
    replicas: Annotated[int, Field(ge=1)] = 1
    """Tracking server replicas; 1 with ``sqlite`` (one file, one writer)."""
    writers: list[ServiceAccountRef] = []
    """Service accounts (``namespace/name``) of the training and CI jobs in the cluster: the only
    identities the mesh lets write to the registry. The platform's own parts (predictors, the
    drift monitor) may only read; every other workload is refused."""
    auth: bool = True
    """MLflow's own auth app (basic auth) in front of every request but ``/health``: people sign
    in; the admin account's password is generated into a Secret (``mlflow-auth``), and the
    platform's parts read as a reader account created at start-up."""

    @model_validator(mode="after")
    def _one_sqlite_writer(self) -> MlflowSpec:
        if self.backend == "sqlite" and self.replicas != 1:
            raise problem("replicas", f"the sqlite backend takes one replica (got {self.replicas}); expected 1")
        return self


class VersionsSpec(SpecModel):
    """Pinned Helm chart and image versions; never 'latest'."""

    istio: str = "1.28.1"
    kserve: str = "v0.16.0"
    cert_manager: str = "v1.19.1"
    nvidia_device_plugin: str = "0.18.0"
    cluster_autoscaler: str = "9.52.1"
    aws_load_balancer_controller: str = "3.5.0"
    """Chart of the controller that gives the ingress gateway's Service its NLB."""
    kube_prometheus_stack: str = "88.5.3"
    """Chart of the cluster's Prometheus, Grafana and the Prometheus Operator (``platform.monitoring``)."""
    mlflow: str = "3.18.0"
    postgres: str = "16.10"

    @field_validator("*")
    @classmethod
    def _no_latest(cls, value: str) -> str:
        if not value or value.strip().lower() in {"latest", "*", "stable"} or not re.search(r"\d", value):
            raise ValueError(f"expected a pinned version such as '1.28.1', got {value!r}")
        return value


class ImagesSpec(SpecModel):
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
        return pinned(value, "images.runtime")

    @field_validator("runtime_gpu")
    @classmethod
    def _pinned_gpu_image(cls, value: str | None) -> str | None:
        return None if value is None else pinned(value, "images.runtimeGpu")


class GatewaySpec(SpecModel):
    replicas: Annotated[int, Field(ge=1)] = 2
    max_replicas: Annotated[int, Field(ge=1)] = 6
    host: str = "*"
    """Host name the Istio ingress gateway serves the gateway on."""
    auth_required: bool = True
    """Bearer-token auth on the gateway (tokens from the ``gatewayTokens`` secret)."""
    max_body_bytes: Annotated[int, Field(gt=0)] = 1_048_576
    resources: ResourcesSpec = ResourcesSpec(cpu="1", memory="512Mi")


class MonitorSpec(SpecModel):
    storage_gb: Annotated[int, Field(ge=1)] = 5
    resources: ResourcesSpec = ResourcesSpec(cpu="500m", memory="1Gi")
    prometheus_rule: bool = True
    """Ship the alert rules (the drift monitor's and the gateway's, ``runtime.alerting``) as a
    PrometheusRule, evaluated by the stack's Prometheus (``platform.monitoring``)."""
    clients: list[ServiceAccountRef] = []
    """Service accounts (``namespace/name``) the mesh lets post labels and read status and reports
    (e.g. the job that joins ground truth); the gateway alone may post served rows. They still
    need the monitor's token."""


class LocalSpec(SpecModel):
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


class CostUsageSpec(SpecModel):
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


class CostSpec(SpecModel):
    monthly_budget_usd: Annotated[float, Field(gt=0)] | None = None
    """The policy check fails a stack whose maximum monthly estimate exceeds this."""
    usage: CostUsageSpec = CostUsageSpec()


_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


def _labels(value: dict[str, str], what: str) -> dict[str, str]:
    for key, text in value.items():
        if not _LABEL_KEY.match(key):
            raise ValueError(f"{what}: {key!r} is not a Kubernetes label key ([prefix/]name, name up to 63 characters)")
        if not _LABEL_VALUE.match(text):
            raise ValueError(
                f"{what}: {key}={text!r} is not a Kubernetes label value (up to 63 letters, digits, '-', '_', '.')"
            )
    return value


class ExistingPrometheusSpec(SpecModel):
    """A Prometheus Operator the cluster already runs, used instead of the platform's own."""

    url: str
    """Its HTTP API, which promotion queries (``http://prometheus-operated.monitoring.svc:9090``)."""
    selector_labels: dict[str, str] = {}
    """Labels its Prometheus selects PodMonitors and PrometheusRules by (``release: <its release>``
    for a kube-prometheus-stack left at its defaults); the stack's monitoring objects carry them."""
    dashboard_labels: dict[str, str] = {"grafana_dashboard": "1"}
    """Labels its Grafana's dashboard sidecar loads ConfigMaps by; ``{}`` ships no dashboards."""
    dashboard_namespace: DnsName = "monitoring"
    """Namespace of the dashboards' ConfigMaps (one the sidecar searches)."""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^/\s:]+(:[0-9]{1,5})?(/\S*)?", value):
            raise ValueError(
                f"expected an http(s) URL such as http://prometheus-operated.monitoring.svc:9090, got {value!r}"
            )
        return value

    @field_validator("selector_labels")
    @classmethod
    def _selector_labels(cls, value: dict[str, str]) -> dict[str, str]:
        return _labels(value, "selectorLabels")

    @field_validator("dashboard_labels")
    @classmethod
    def _dashboard_labels(cls, value: dict[str, str]) -> dict[str, str]:
        return _labels(value, "dashboardLabels")


class MonitoringSpec(SpecModel):
    """Prometheus and Grafana of the cluster: kube-prometheus-stack (``versions.kubePrometheusStack``)
    in ``namespace``, or ``existing``; either way it scrapes the gateway, the drift monitor and
    the predictors, evaluates the shipped alert rules and shows the dashboards."""

    namespace: DnsName = "monitoring"
    """Namespace of the platform's own release (kube-prometheus-stack)."""
    retention_days: Annotated[int, Field(ge=1, le=365)] = 15
    """How long the platform's Prometheus keeps samples."""
    storage_gb: Annotated[int, Field(ge=1)] = 20
    """Size of the platform's Prometheus volume."""
    existing: ExistingPrometheusSpec | None = None
    """Use this Prometheus instead; nothing of kube-prometheus-stack is installed."""

    @model_validator(mode="after")
    def _own_or_existing(self) -> MonitoringSpec:
        own = sorted({"namespace", "retention_days", "storage_gb"} & self.model_fields_set)
        if self.existing is not None and own:
            keys = ", ".join(to_camel(k) for k in own)
            raise problem(
                to_camel(own[0]) if len(own) == 1 else "existing",
                f"{keys}: only for the platform's own Prometheus, and with 'existing' none is installed; remove it",
            )
        return self


class PlatformSpec(SpecModel):
    namespace: DnsName = "ml-serving"
    cluster: ClusterSpec
    artifacts: ArtifactsSpec = ArtifactsSpec()
    mlflow: MlflowSpec
    versions: VersionsSpec = VersionsSpec()
    images: ImagesSpec
    gateway: GatewaySpec = GatewaySpec()
    monitor: MonitorSpec = MonitorSpec()
    local: LocalSpec = LocalSpec()
    cost: CostSpec = CostSpec()
    """Budget and usage assumptions of the cost estimate (``python -m components.cost``)."""
    auto_merge_promotions: bool = False
    """Merge the promote workflow's pull requests by themselves once their checks pass."""
    monitoring: MonitoringSpec = MonitoringSpec()

    @model_validator(mode="after")
    def _mlflow_backend_fits_the_cluster(self) -> PlatformSpec:
        allowed = MLFLOW_BACKENDS[self.cluster.provider]
        if self.mlflow.backend not in allowed:
            raise problem(
                "mlflow.backend",
                f"backend {self.mlflow.backend!r} is not available with cluster.provider "
                f"{self.cluster.provider!r}; expected one of {', '.join(allowed)}",
            )
        return self
