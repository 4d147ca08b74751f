"""The MLflow server's backend store: RDS Postgres, an in-cluster Postgres, or SQLite.

Each function creates its resources under the given parent and returns the SQLAlchemy URI of
the store as a secret output. The URI is only ever written into a Kubernetes Secret.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from runtime.spec import RdsSpec
from runtime.wiring import app_labels

__all__ = ["rds_backend", "postgres_backend", "sqlite_backend", "DB_NAME", "DB_USER", "POSTGRES_PORT"]

DB_NAME = "mlflow"
DB_USER = "mlflow"
POSTGRES_PORT = 5432
# pg8000 is pure Python (BSD); it negotiates TLS when the server offers it, which RDS requires.
_DIALECT = "postgresql+pg8000"


def _password(name: str, parent: pulumi.Resource) -> random.RandomPassword:
    # RDS refuses '/', '@', '"' and spaces in a master password; a URI needs no escaping either.
    return random.RandomPassword(
        f"{name}-password", length=32, special=True, override_special="-_", opts=pulumi.ResourceOptions(parent=parent)
    )


def _uri(password: pulumi.Input[str], host: pulumi.Input[str]) -> pulumi.Output[str]:
    uri = pulumi.Output.all(password, host).apply(
        lambda args: f"{_DIALECT}://{DB_USER}:{args[0]}@{args[1]}:{POSTGRES_PORT}/{DB_NAME}"
    )
    return pulumi.Output.secret(uri)


def rds_backend(
    name: str,
    *,
    rds: RdsSpec,
    subnet_ids: pulumi.Input[Sequence[str]],
    vpc_id: pulumi.Input[str],
    client_security_group_id: pulumi.Input[str],
    retain: bool,
    parent: pulumi.Resource,
) -> pulumi.Output[str]:
    """An encrypted, private RDS Postgres reachable only from the cluster's security group."""
    child = pulumi.ResourceOptions(parent=parent)
    password = _password(name, parent)
    subnets = aws.rds.SubnetGroup(f"{name}-subnets", subnet_ids=subnet_ids, opts=child)
    group = aws.ec2.SecurityGroup(
        f"{name}-sg",
        vpc_id=vpc_id,
        description="MLflow Postgres: reachable from the cluster only",
        ingress=[
            {
                "protocol": "tcp",
                "from_port": POSTGRES_PORT,
                "to_port": POSTGRES_PORT,
                "security_groups": [client_security_group_id],
                "description": "EKS cluster",
            }
        ],
        opts=child,
    )
    instance = aws.rds.Instance(
        f"{name}-rds",
        engine="postgres",
        engine_version=rds.engine_version,
        instance_class=rds.instance_class,
        allocated_storage=rds.allocated_storage_gb,
        max_allocated_storage=rds.allocated_storage_gb * 4,
        storage_type="gp3",
        storage_encrypted=True,
        publicly_accessible=False,
        multi_az=rds.multi_az,
        db_name=DB_NAME,
        username=DB_USER,
        password=password.result,
        port=POSTGRES_PORT,
        db_subnet_group_name=subnets.name,
        vpc_security_group_ids=[group.id],
        backup_retention_period=rds.backup_retention_days,
        copy_tags_to_snapshot=True,
        deletion_protection=retain,
        skip_final_snapshot=not retain,
        final_snapshot_identifier=f"{name}-final" if retain else None,
        auto_minor_version_upgrade=True,
        opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=retain),
    )
    return _uri(password.result, instance.address)


def postgres_backend(
    name: str,
    *,
    namespace: pulumi.Input[str],
    image: str,
    storage_gb: int,
    storage_class: str | None,
    provider: k8s.Provider,
    depends_on: tuple[pulumi.Resource, ...],
    parent: pulumi.Resource,
) -> pulumi.Output[str]:
    """A single-replica Postgres StatefulSet (development stacks: no managed database)."""
    k8s_opts = pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=list(depends_on))
    password = _password(name, parent)
    labels = app_labels(name)
    secret = k8s.core.v1.Secret(
        f"{name}-credentials",
        metadata={"name": f"{name}-credentials", "namespace": namespace},
        type="Opaque",
        string_data={"POSTGRES_PASSWORD": password.result, "POSTGRES_USER": DB_USER, "POSTGRES_DB": DB_NAME},
        opts=k8s_opts,
    )
    service = k8s.core.v1.Service(
        f"{name}-service",
        metadata={"name": name, "namespace": namespace, "labels": labels},
        spec={
            "type": "ClusterIP",
            "selector": labels,
            "ports": [{"name": "tcp-postgres", "port": POSTGRES_PORT, "targetPort": POSTGRES_PORT}],
        },
        opts=k8s_opts,
    )
    ready = ["pg_isready", "-U", DB_USER, "-d", DB_NAME]
    k8s.apps.v1.StatefulSet(
        f"{name}-statefulset",
        metadata={"name": name, "namespace": namespace, "labels": labels},
        spec={
            "serviceName": name,
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "securityContext": {"runAsUser": 999, "runAsGroup": 999, "fsGroup": 999, "runAsNonRoot": True},
                    "containers": [
                        {
                            "name": "postgres",
                            "image": image,
                            "ports": [{"name": "tcp-postgres", "containerPort": POSTGRES_PORT}],
                            "envFrom": [{"secretRef": {"name": secret.metadata["name"]}}],
                            "env": [{"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"}],
                            "readinessProbe": {"exec": {"command": ready}, "periodSeconds": 10},
                            "livenessProbe": {"exec": {"command": ready}, "periodSeconds": 30, "failureThreshold": 5},
                            "resources": {
                                "requests": {"cpu": "250m", "memory": "512Mi"},
                                "limits": {"cpu": "1", "memory": "1Gi"},
                            },
                            "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}],
                        }
                    ],
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": f"{storage_gb}Gi"}},
                        **({"storageClassName": storage_class} if storage_class else {}),
                    },
                }
            ],
        },
        opts=k8s_opts,
    )
    host = pulumi.Output.concat(service.metadata["name"], ".", namespace, ".svc.cluster.local")
    return _uri(password.result, host)


def sqlite_backend(path: str) -> pulumi.Output[str]:
    """A SQLite file on the server's volume (a single replica on a local cluster only)."""
    return pulumi.Output.secret(f"sqlite:///{path}")
