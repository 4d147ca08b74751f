"""The drift monitor: one per stack, fed by the gateway's tap.

Deployment (runtime image, ``python -m runtime.drift``), Service, a PersistentVolumeClaim for its
windows and counts (state survives a restart), and a ConfigMap holding a
``runtime.wiring.MonitorConfig``: the specs and, per variant, the reference profile the lock
recorded. Profiles are read through the MLflow tracking server, which proxies the artifact store,
so the monitor needs no bucket credentials of its own.

Its callers are authenticated twice: a generated bearer token in a Secret that the monitor and
the gateway's tap both mount (``TOKEN_SECRET``), and an Istio AuthorizationPolicy that lets only
the gateway's identity post served rows, ``platform.monitor.clients`` post labels and read, and
anyone reach ``/healthz`` and ``/metrics`` (probes, Prometheus).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.gateway import CONFIG_CHECKSUM_ANNOTATION, GATEWAY_PORT, TOKENS_MOUNT, runtime_container
from components.mlflow_access import MONITOR_SERVICE_ACCOUNT, reader_env
from components.scraping import scrape_annotations
from runtime.registry.lock import ModelLock
from runtime.spec import StackSpec
from runtime.wiring import GATEWAY_SERVICE_ACCOUNT, INGEST_PATH, RUNTIME_UID, MonitorConfig, app_labels

__all__ = [
    "DriftMonitor",
    "DriftMonitorArgs",
    "monitor_config",
    "MONITOR_NAME",
    "MONITOR_PORT",
    "STATE_DIR",
    "TOKEN_SECRET",
    "TOKEN_KEY",
]

MONITOR_NAME = "ml-serving-drift"
MONITOR_PORT = 8090
STATE_DIR = "/var/lib/ml-serving/drift"
CONFIG_MOUNT = "/etc/ml-serving/monitor"
TOKEN_SECRET = f"{MONITOR_NAME}-token"
"""The Secret holding the monitor's bearer token; the gateway mounts it too."""
TOKEN_KEY = "token"
TOKEN_MOUNT = "/etc/ml-serving/drift-token"
_OPEN_PATHS = ["/healthz", "/metrics"]
_CLIENT_PATHS = ["/labels/*", "/status/*", "/report/*", "/outcomes/*", "/experiments/*"]


def _authorization(namespace: str, clients: list[str], labels: dict[str, str]) -> dict:
    """Who the mesh lets reach the monitor: the gateway posts rows; clients post labels and read;
    probes and Prometheus read health and metrics. Anything else is denied (an ALLOW policy)."""
    rules = [
        {
            "from": [{"source": {"principals": [f"cluster.local/ns/{namespace}/sa/{GATEWAY_SERVICE_ACCOUNT}"]}}],
            "to": [{"operation": {"methods": ["POST"], "paths": [INGEST_PATH]}}],
        },
        {"to": [{"operation": {"methods": ["GET"], "paths": _OPEN_PATHS}}]},
    ]
    if clients:
        principals = [f"cluster.local/ns/{c.split('/')[0]}/sa/{c.split('/')[1]}" for c in clients]
        rules.append(
            {
                "from": [{"source": {"principals": principals}}],
                "to": [{"operation": {"methods": ["GET", "POST"], "paths": _CLIENT_PATHS}}],
            }
        )
    return {"selector": {"matchLabels": labels}, "action": "ALLOW", "rules": rules}


def monitor_config(spec: StackSpec, lock: ModelLock) -> MonitorConfig:
    """The monitor's configuration: every model with drift enabled and its variants' profiles."""
    models = {name: model for name, model in spec.models.items() if model.drift.enabled}
    profiles = {
        name: {v.variant_name: uri for v in model.variants if (uri := lock.versions[v.model].profile_uri) is not None}
        for name, model in models.items()
    }
    # Experiments read their guardrails from the gateway's per-variant report, through its Service.
    gateway_url = f"http://{GATEWAY_SERVICE_ACCOUNT}.{spec.platform.namespace}.svc.cluster.local:{GATEWAY_PORT}"
    return MonitorConfig(
        stack=spec.stack, models=models, profiles=profiles, state_dir=STATE_DIR, gateway_url=gateway_url
    )


@dataclass(frozen=True, kw_only=True)
class DriftMonitorArgs:
    spec: StackSpec
    lock: ModelLock
    namespace: pulumi.Input[str]
    provider: pulumi.ProviderResource | None = None
    mlflow_url: pulumi.Input[str] | None = None
    """Tracking server the monitor downloads reference profiles through."""
    mlflow_auth: bool = False
    """The tracking server runs MLflow's auth app: read as the platform's reader account."""
    webhook_url: pulumi.Input[str] | None = None
    """Where the monitor POSTs an event on the transition into drift (a Pulumi secret)."""
    depends_on: tuple[pulumi.Resource, ...] = ()
    """istiod (the sidecar under STRICT mTLS) and the StorageClass its state claim binds with."""
    storage_class: str | None = None
    """StorageClass of the state claim (None: the cluster's default)."""


class DriftMonitor(pulumi.ComponentResource):
    config_map: k8s.core.v1.ConfigMap
    state: k8s.core.v1.PersistentVolumeClaim
    deployment: k8s.apps.v1.Deployment
    service: k8s.core.v1.Service
    webhook: k8s.core.v1.Secret | None
    token: k8s.core.v1.Secret
    service_account: k8s.core.v1.ServiceAccount
    authorization: k8s.apiextensions.CustomResource
    url: pulumi.Output[str]
    """In-cluster base URL the gateway's tap posts to."""

    def __init__(self, name: str, args: DriftMonitorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ml-serving:index:DriftMonitor", name, None, opts)
        settings = args.spec.platform.monitor
        child = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.depends_on))
        labels = app_labels(MONITOR_NAME)
        meta: dict[str, Any] = {"namespace": args.namespace, "labels": labels}
        config_json = monitor_config(args.spec, args.lock).model_dump_json(by_alias=True)
        checksum = hashlib.sha256(config_json.encode()).hexdigest()

        self.config_map = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata={"name": f"{MONITOR_NAME}-config", **meta},
            data={"monitor.json": config_json},
            opts=child,
        )
        self.state = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-state",
            metadata={"name": f"{MONITOR_NAME}-state", **meta},
            spec={
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": f"{settings.storage_gb}Gi"}},
                **({"storageClassName": args.storage_class} if args.storage_class else {}),
            },
            opts=child,
        )
        env: list[dict[str, Any]] = (
            [{"name": "MLFLOW_TRACKING_URI", "value": args.mlflow_url}] if args.mlflow_url is not None else []
        )
        if args.mlflow_auth:
            env += reader_env()
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa", metadata={"name": MONITOR_SERVICE_ACCOUNT, **meta}, opts=child
        )
        password = random.RandomPassword(
            f"{name}-token-value", length=40, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        self.token = k8s.core.v1.Secret(
            f"{name}-token",
            metadata={"name": TOKEN_SECRET, **meta},
            type="Opaque",
            string_data={TOKEN_KEY: password.result},
            opts=child,
        )
        env.append({"name": "ML_SERVING_DRIFT_TOKENS_FILE", "value": f"{TOKEN_MOUNT}/{TOKEN_KEY}"})
        self.webhook = None
        if args.webhook_url is not None:
            self.webhook = k8s.core.v1.Secret(
                f"{name}-webhook",
                metadata={"name": f"{MONITOR_NAME}-webhook", **meta},
                string_data={"url": pulumi.Output.secret(args.webhook_url)},
                opts=child,
            )
            env.append(
                {
                    "name": "ML_SERVING_DRIFT_WEBHOOK_URL",
                    "valueFrom": {"secretKeyRef": {"name": f"{MONITOR_NAME}-webhook", "key": "url"}},
                }
            )
        mounts: list[dict[str, Any]] = [
            {"name": "config", "mountPath": CONFIG_MOUNT, "readOnly": True},
            {"name": "state", "mountPath": STATE_DIR},
            {"name": "token", "mountPath": TOKEN_MOUNT, "readOnly": True},
        ]
        volumes = [
            {"name": "config", "configMap": {"name": f"{MONITOR_NAME}-config"}},
            {"name": "state", "persistentVolumeClaim": {"claimName": f"{MONITOR_NAME}-state"}},
            {"name": "token", "secret": {"secretName": TOKEN_SECRET}},
        ]
        if args.spec.platform.gateway.auth_required:
            # The gateway's own token Secret, to read its report (experiment guardrails).
            env.append({"name": "ML_SERVING_DRIFT_GATEWAY_TOKEN_FILE", "value": f"{TOKENS_MOUNT}/tokens"})
            volumes.append(
                {
                    "name": "gateway-tokens",
                    "secret": {"secretName": f"{GATEWAY_SERVICE_ACCOUNT}-tokens", "optional": True},
                }
            )
            mounts.append({"name": "gateway-tokens", "mountPath": TOKENS_MOUNT, "readOnly": True})
        container = runtime_container(
            "drift",
            args.spec.platform.images.runtime,
            "runtime.drift",
            f"{CONFIG_MOUNT}/monitor.json",
            MONITOR_PORT,
            "/healthz",
            settings.resources,
            env,
            mounts,
        )
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"name": MONITOR_NAME, **meta},
            spec={
                "replicas": 1,
                # One writer of the state volume (ReadWriteOnce): stop the old pod before the new one.
                "strategy": {"type": "Recreate"},
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {
                        "labels": labels,
                        "annotations": {CONFIG_CHECKSUM_ANNOTATION: checksum, **scrape_annotations(MONITOR_PORT)},
                    },
                    "spec": {
                        "serviceAccountName": MONITOR_SERVICE_ACCOUNT,
                        "securityContext": {"fsGroup": RUNTIME_UID},
                        "containers": [container],
                        "volumes": volumes,
                    },
                },
            },
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[self.config_map, self.state, self.token])
            ),
        )
        self.authorization = k8s.apiextensions.CustomResource(
            f"{name}-authz",
            api_version="security.istio.io/v1",
            kind="AuthorizationPolicy",
            metadata={"name": MONITOR_NAME, **meta},
            # From the spec's plain namespace name: known in a first preview, where policies judge it.
            spec=_authorization(args.spec.platform.namespace, settings.clients, labels),
            opts=child,
        )
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": MONITOR_NAME, **meta},
            spec={
                "selector": labels,
                "ports": [{"name": "http", "port": MONITOR_PORT, "targetPort": MONITOR_PORT, "protocol": "TCP"}],
            },
            opts=child,
        )
        # A plain string (the spec's namespace): the gateway's config embeds it and must stay known in a preview.
        self.url = pulumi.Output.from_input(
            f"http://{MONITOR_NAME}.{args.spec.platform.namespace}.svc.cluster.local:{MONITOR_PORT}"
        )
        self.register_outputs({"url": self.url, "configChecksum": checksum})
