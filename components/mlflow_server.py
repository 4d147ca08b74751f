"""The MLflow tracking server and model registry, inside the cluster (ClusterIP only).

It runs from the runtime image (``mlflow server``), keeps its metadata in Postgres (RDS or in
the cluster; SQLite on a local cluster) and proxies artifacts to ``s3://<bucket>/mlflow`` with
an IRSA role that reaches only that prefix. Only the identities that need it reach it, and
people sign in (``components.mlflow_access``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import pulumi
import pulumi_kubernetes as k8s

from components.artifacts import MLFLOW_PREFIX, ArtifactStore
from components.cluster import Cluster
from components.irsa import ROLE_ARN_ANNOTATION, irsa_role
from components.mlflow_access import REGISTRY_READERS, access_policy, auth_secret, server_auth
from components.mlflow_backend import postgres_backend, rds_backend, sqlite_backend
from runtime.spec import MlflowSpec, VersionsSpec
from runtime.wiring import RUNTIME_UID, app_labels

__all__ = ["MlflowServer", "MlflowServerArgs", "MLFLOW_PORT", "SERVICE_NAME", "BACKEND_SECRET_KEY"]

MLFLOW_PORT = 5000
SERVICE_NAME = "mlflow"
BACKEND_SECRET_KEY = "backend-store-uri"
_DATA_DIR = "/var/lib/mlflow"
_ARTIFACTS_SUBDIR = "artifacts"


@dataclass(frozen=True, kw_only=True)
class MlflowServerArgs:
    mlflow: MlflowSpec
    versions: VersionsSpec
    image: str
    """The pinned runtime image; it carries mlflow, boto3 and the Postgres driver."""
    cluster: Cluster
    artifacts: ArtifactStore | None
    """The S3 artifact store; None on a cluster without AWS (artifacts go to the server's volume)."""
    retain: bool = False
    """Keep the database (deletion protection, final snapshot) when the stack is destroyed."""
    depends_on: tuple[pulumi.Resource, ...] = ()
    """istiod (its injector must add the sidecar under STRICT mTLS) and the StorageClass claims bind with."""


class MlflowServer(pulumi.ComponentResource):
    url: pulumi.Output[str]
    """In-cluster URL of the tracking server, e.g. ``http://mlflow.ml-serving.svc.cluster.local:5000``."""
    deployment: k8s.apps.v1.Deployment
    service_account: k8s.core.v1.ServiceAccount
    artifacts_destination: pulumi.Output[str]
    """Where ``mlflow-artifacts:/`` URIs live, as a storage initializer reads it: ``s3://<bucket>/mlflow``,
    or ``pvc://mlflow-data/artifacts`` (the server's own volume) on a cluster without a bucket."""

    def __init__(self, name: str, args: MlflowServerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ml-serving:index:MlflowServer", name, None, opts)
        cluster, spec = args.cluster, args.mlflow
        namespace = cluster.namespace.metadata["name"]
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=cluster.provider, depends_on=list(args.depends_on))
        labels = app_labels(SERVICE_NAME)

        eks = cluster.eks_outputs
        annotations: dict[str, pulumi.Input[str]] = {}
        if eks is not None and args.artifacts is not None:
            role = irsa_role(
                f"{name}-role",
                oidc_provider_arn=eks.oidc_provider_arn,
                oidc_provider_url=eks.oidc_provider_url,
                namespace=cluster.namespace_name,
                service_account=SERVICE_NAME,
                policy=args.artifacts.bucket_arn.apply(_bucket_prefix_policy),
                parent=self,
            )
            annotations[ROLE_ARN_ANNOTATION] = role.arn
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata={"name": SERVICE_NAME, "namespace": namespace, "labels": labels, "annotations": annotations},
            opts=k8s_opts,
        )

        if spec.backend == "rds":
            if eks is None:
                raise ValueError("mlflow.backend 'rds' needs an EKS cluster; allowed here: postgres, sqlite")
            backend_uri = rds_backend(
                f"{name}-db",
                rds=spec.rds,
                subnet_ids=eks.private_subnet_ids,
                vpc_id=eks.vpc_id,
                client_security_group_id=eks.cluster_security_group_id,
                retain=args.retain,
                parent=self,
            )
        elif spec.backend == "postgres":
            backend_uri = postgres_backend(
                f"{name}-postgres",
                namespace=namespace,
                image=f"docker.io/library/postgres:{args.versions.postgres}",
                storage_gb=20,
                storage_class=cluster.storage_class_name,
                provider=cluster.provider,
                depends_on=args.depends_on,
                parent=self,
            )
        else:
            backend_uri = sqlite_backend(f"{_DATA_DIR}/mlflow.db")
        backend = k8s.core.v1.Secret(
            f"{name}-backend",
            metadata={"name": f"{SERVICE_NAME}-backend", "namespace": namespace, "labels": labels},
            type="Opaque",
            string_data={BACKEND_SECRET_KEY: backend_uri},
            opts=k8s_opts,
        )

        needs_volume = args.artifacts is None or spec.backend == "sqlite"
        if args.artifacts is not None:
            destination: pulumi.Input[str] = args.artifacts.artifacts_destination
            self.artifacts_destination = args.artifacts.artifacts_destination
        else:
            destination = f"{_DATA_DIR}/{_ARTIFACTS_SUBDIR}"
            # Predictors mount the same claim (KServe's pvc:// storage URIs): one node, RWO.
            self.artifacts_destination = pulumi.Output.from_input(f"pvc://{SERVICE_NAME}-data/{_ARTIFACTS_SUBDIR}")
        volumes, mounts = [{"name": "tmp", "emptyDir": {}}], [{"name": "tmp", "mountPath": "/tmp"}]
        if needs_volume:
            claim = k8s.core.v1.PersistentVolumeClaim(
                f"{name}-data",
                metadata={"name": f"{SERVICE_NAME}-data", "namespace": namespace, "labels": labels},
                spec={
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "10Gi"}},
                    **({"storageClassName": cluster.storage_class_name} if cluster.storage_class_name else {}),
                },
                opts=k8s_opts,
            )
            volumes.append({"name": "data", "persistentVolumeClaim": {"claimName": claim.metadata["name"]}})
            mounts.append({"name": "data", "mountPath": _DATA_DIR})

        auth_args: list[str] = []
        auth_env: list[dict] = []
        lifecycle: dict = {}
        if spec.auth:
            auth_secret(f"{name}-auth", namespace, backend_uri, labels, k8s_opts)
            auth_args, auth_env, volume, mount, lifecycle = server_auth()
            volumes.append(volume)
            mounts.append(mount)

        hosts = _allowed_hosts(cluster.namespace_name, spec.tracking_uri)
        probe: dict[str, Any] = {
            "httpGet": {"path": "/health", "port": "http", "httpHeaders": [{"name": "Host", "value": "localhost"}]}
        }
        container: dict[str, Any] = {
            "name": "mlflow",
            "image": args.image,
            "command": ["mlflow", "server"],
            # Kubernetes expands $(MLFLOW_BACKEND_STORE_URI) from the env below: the URI (and its
            # password) never appears in the pod spec.
            "args": [
                "--backend-store-uri",
                "$(MLFLOW_BACKEND_STORE_URI)",
                "--artifacts-destination",
                destination,
                "--serve-artifacts",
                "--host",
                "0.0.0.0",
                "--port",
                str(MLFLOW_PORT),
                # Within the pod's CPU (MLflow starts four by default).
                "--workers",
                "2",
                "--allowed-hosts",
                ",".join(hosts),
                *auth_args,
            ],
            "env": [
                {
                    "name": "MLFLOW_BACKEND_STORE_URI",
                    "valueFrom": {"secretKeyRef": {"name": backend.metadata["name"], "key": BACKEND_SECRET_KEY}},
                },
                *auth_env,
            ],
            "ports": [{"name": "http", "containerPort": MLFLOW_PORT}],
            "readinessProbe": {**probe, "periodSeconds": 10, "timeoutSeconds": 5},
            "livenessProbe": {
                **probe,
                "initialDelaySeconds": 30,
                "periodSeconds": 20,
                "timeoutSeconds": 5,
                "failureThreshold": 5,
            },
            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            },
            "volumeMounts": mounts,
            **({"lifecycle": lifecycle} if lifecycle else {}),
        }
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"name": SERVICE_NAME, "namespace": namespace, "labels": labels},
            spec={
                "replicas": spec.replicas,
                # One writer on a ReadWriteOnce volume: replace, never overlap.
                "strategy": {"type": "Recreate"} if needs_volume else {"type": "RollingUpdate"},
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": self.service_account.metadata["name"],
                        "securityContext": {"runAsNonRoot": True, "runAsUser": RUNTIME_UID, "fsGroup": RUNTIME_UID},
                        "containers": [container],
                        "volumes": volumes,
                    },
                },
            },
            opts=k8s_opts,
        )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": SERVICE_NAME, "namespace": namespace, "labels": labels},
            spec={
                "type": "ClusterIP",
                "selector": labels,
                "ports": [{"name": "http", "port": MLFLOW_PORT, "targetPort": "http"}],
            },
            opts=k8s_opts,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-authz",
            api_version="security.istio.io/v1",
            kind="AuthorizationPolicy",
            metadata={"name": SERVICE_NAME, "namespace": namespace, "labels": labels},
            spec=access_policy(cluster.namespace_name, spec.writers, list(REGISTRY_READERS), labels),
            opts=k8s_opts,
        )
        self.url = pulumi.Output.concat(
            "http://", service.metadata["name"], ".", namespace, f".svc.cluster.local:{MLFLOW_PORT}"
        )
        self.register_outputs({"url": self.url, "artifactsDestination": self.artifacts_destination})


def _allowed_hosts(namespace: str, tracking_uri: str) -> list[str]:
    """Host headers the server answers (MLflow rejects others to stop DNS rebinding)."""
    names = [
        SERVICE_NAME,
        f"{SERVICE_NAME}.{namespace}",
        f"{SERVICE_NAME}.{namespace}.svc",
        f"{SERVICE_NAME}.{namespace}.svc.cluster.local",
    ]
    hosts = [host for name in names for host in (name, f"{name}:{MLFLOW_PORT}")]
    public = urlparse(tracking_uri).hostname
    if public and public not in hosts:
        hosts.append(public)
    return [*hosts, "localhost", f"localhost:{MLFLOW_PORT}"]


def _bucket_prefix_policy(bucket_arn: str) -> str:
    """Read and write objects under the MLflow prefix; list only that prefix."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                    "Resource": f"{bucket_arn}/{MLFLOW_PREFIX}/*",
                },
                {
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": bucket_arn,
                    "Condition": {"StringLike": {"s3:prefix": [MLFLOW_PREFIX, f"{MLFLOW_PREFIX}/*"]}},
                },
            ],
        },
        sort_keys=True,
    )
