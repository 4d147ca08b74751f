"""KServe (CRDs and controller, Standard mode: plain Deployments) and the project's ClusterServingRuntime.

Every InferenceService of the project names ``runtime.wiring.SERVING_RUNTIME_NAME`` as its
runtime: the runtime image's own model server (adaptive batching, Open Inference Protocol V2),
started per the entry point documented in ``runtime/wiring.py``. Per-variant batching limits
reach it through the predictor's env (``ML_SERVING_MAX_BATCH_SIZE``, ``ML_SERVING_MAX_LATENCY_MS``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.cluster import Cluster
from components.mlflow_access import reader_env
from runtime.spec import VersionsSpec
from runtime.wiring import MODEL_SERVER_PORT, PART_OF, RUNTIME_UID, SERVING_RUNTIME_NAME

__all__ = [
    "Serving",
    "ServingArgs",
    "KSERVE_NAMESPACE",
    "KSERVE_CHARTS",
    "MODEL_SERVER_PORT",
    "MODEL_DIR",
    "DEPLOYMENT_MODE",
]

KSERVE_NAMESPACE = "kserve"
KSERVE_CHARTS = "oci://ghcr.io/kserve/charts"
DEPLOYMENT_MODE = "Standard"
RUNTIME_PRIORITY = 10
MODEL_DIR = "/mnt/models"
"""Where KServe's storage initializer puts the predictor's ``storageUri``."""


@dataclass(frozen=True, kw_only=True)
class ServingArgs:
    versions: VersionsSpec
    cluster: Cluster
    image: str
    """The pinned runtime image whose ``python -m runtime.modelserver`` serves each model."""
    mlflow_url: pulumi.Input[str]
    """Tracking server the model server resolves ``models:/`` URIs against."""
    mlflow_auth: bool = False
    """The tracking server runs MLflow's auth app: predictors read as the platform's reader account."""
    depends_on: tuple[pulumi.Resource, ...] = ()
    """The mesh: cert-manager issues the webhook certificates, istiod injects the sidecars."""


class Serving(pulumi.ComponentResource):
    crds: k8s.helm.v3.Release
    controller: k8s.helm.v3.Release
    serving_runtime: k8s.apiextensions.CustomResource
    runtime_name: str

    def __init__(self, name: str, args: ServingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ml-serving:index:Serving", name, None, opts)
        provider = args.cluster.provider
        self.crds = k8s.helm.v3.Release(
            f"{name}-kserve-crd",
            name="kserve-crd",
            chart=f"{KSERVE_CHARTS}/kserve-crd",
            version=args.versions.kserve,
            namespace=KSERVE_NAMESPACE,
            create_namespace=True,
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(args.depends_on)),
        )
        self.controller = k8s.helm.v3.Release(
            f"{name}-kserve",
            name="kserve",
            chart=f"{KSERVE_CHARTS}/kserve",
            version=args.versions.kserve,
            namespace=KSERVE_NAMESPACE,
            values={
                "kserve": {
                    "controller": {
                        # Plain Deployments, Services and HPAs: no Knative ("RawDeployment"
                        # is the deprecated name of this mode since 0.16).
                        "deploymentMode": DEPLOYMENT_MODE,
                        # Predictors are private; the project's gateway is the only way in.
                        "gateway": {"disableIngressCreation": True, "ingressGateway": {"className": "istio"}},
                    },
                    # The chart's kserve-mlserver auto-selects mlflow v1/v2 at priority 1 as this
                    # project's runtime does, which KServe's runtime webhook refuses; MLServer is
                    # not used here, so it is switched off.
                    "servingruntime": {"mlserver": {"disabled": True}},
                }
            },
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[self.crds, *args.depends_on]),
        )
        self.runtime_name = SERVING_RUNTIME_NAME
        ready = {"httpGet": {"path": "/v2/health/ready", "port": MODEL_SERVER_PORT}}
        self.serving_runtime = k8s.apiextensions.CustomResource(
            f"{name}-runtime",
            api_version="serving.kserve.io/v1alpha1",
            kind="ClusterServingRuntime",
            metadata={"name": SERVING_RUNTIME_NAME, "labels": PART_OF},
            spec={
                "annotations": {
                    "prometheus.kserve.io/port": str(MODEL_SERVER_PORT),
                    "prometheus.kserve.io/path": "/metrics",
                },
                # Above every built-in runtime's priority for mlflow, should one be switched on.
                "supportedModelFormats": [
                    {"name": "mlflow", "version": "2", "autoSelect": True, "priority": RUNTIME_PRIORITY}
                ],
                "protocolVersions": ["v2"],
                "containers": [
                    {
                        "name": "kserve-container",
                        "image": args.image,
                        "command": ["python", "-m", "runtime.modelserver"],
                        "args": [
                            "--model_name",
                            "{{.Name}}",
                            "--model_dir",
                            MODEL_DIR,
                            "--host",
                            "0.0.0.0",
                            "--http_port",
                            str(MODEL_SERVER_PORT),
                        ],
                        "env": [
                            {"name": "MLFLOW_TRACKING_URI", "value": args.mlflow_url},
                            *(reader_env() if args.mlflow_auth else []),
                        ],
                        "ports": [{"name": "http", "containerPort": MODEL_SERVER_PORT, "protocol": "TCP"}],
                        "readinessProbe": {**ready, "periodSeconds": 5},
                        "livenessProbe": {
                            **ready,
                            "initialDelaySeconds": 30,
                            "periodSeconds": 20,
                            "failureThreshold": 5,
                        },
                        "resources": {
                            "requests": {"cpu": "1", "memory": "2Gi"},
                            "limits": {"cpu": "1", "memory": "2Gi"},
                        },
                        "securityContext": {
                            "runAsNonRoot": True,
                            "runAsUser": RUNTIME_UID,
                            "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]},
                        },
                    }
                ],
            },
            # The controller's validating webhook must be up before it can admit the runtime.
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[self.controller]),
        )
        self.register_outputs({"servingRuntime": SERVING_RUNTIME_NAME, "kserveVersion": self.controller.version})
