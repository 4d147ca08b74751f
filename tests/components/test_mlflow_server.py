"""MlflowServer: Postgres backend from a Secret, S3 artifacts through an IRSA role, ClusterIP only."""

from __future__ import annotations

import json

import pulumi
import pytest

from components.artifacts import ArtifactStore, ArtifactStoreArgs
from components.cluster import Cluster, ClusterArgs
from components.mlflow_server import MlflowServer, MlflowServerArgs
from runtime.spec import load_stack
from tests.components.renders import stack_renders

PROD = load_stack("prod").platform
LOCAL = load_stack("local").platform


def _cluster(name: str, platform) -> Cluster:
    return Cluster(name, ClusterArgs(platform.cluster, platform.versions, platform.namespace, cluster_name=f"ml-serving-{name}"))


@pulumi.runtime.test
def test_server_account_carries_an_irsa_role_and_the_url_is_cluster_local():
    cluster = _cluster("mlflow-eks", PROD)
    store = ArtifactStore("mlflow-eks-store", ArtifactStoreArgs(PROD.artifacts))
    server = MlflowServer("mlflow-eks", MlflowServerArgs(PROD.mlflow, PROD.versions, PROD.images.runtime, cluster, store, retain=True))
    account = server.service_account

    def check(args):
        urn, metadata, url = args
        assert metadata["annotations"]["eks.amazonaws.com/role-arn"].endswith("role/mlflow-eks-role"), urn
        assert url == "http://mlflow.ml-serving.svc.cluster.local:5000", urn

    return pulumi.Output.all(account.urn, account.metadata, server.url).apply(check)


def test_rds_is_refused_on_an_existing_cluster_with_the_allowed_backends():
    cluster = _cluster("mlflow-existing", LOCAL)
    spec = PROD.mlflow
    with pytest.raises(ValueError, match="allowed: postgres, sqlite"):
        MlflowServer("mlflow-existing", MlflowServerArgs(spec, LOCAL.versions, LOCAL.images.runtime, cluster, None))


def _resources(stack: str) -> dict[str, dict]:
    return {r["name"]: r for r in stack_renders()[stack]["resources"]}


def test_prod_deployment_takes_the_postgres_uri_from_a_secret_and_writes_to_s3():
    resources = _resources("prod")
    deployment = resources["mlflow-deployment"]
    container = deployment["inputs"]["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    uri_arg = args[args.index("--backend-store-uri") + 1]
    assert uri_arg == "$(MLFLOW_BACKEND_STORE_URI)", deployment["urn"]
    env = {e["name"]: e for e in container["env"]}
    assert env["MLFLOW_BACKEND_STORE_URI"]["valueFrom"]["secretKeyRef"] == {"name": "mlflow-backend", "key": "backend-store-uri"}
    assert args[args.index("--artifacts-destination") + 1].startswith("s3://"), deployment["urn"]
    assert container["image"] == PROD.images.runtime and container["readinessProbe"] and container["livenessProbe"]
    assert container["resources"]["requests"] and container["resources"]["limits"], deployment["urn"]
    assert "postgresql+pg8000://" not in json.dumps(deployment), f"{deployment['urn']}: the backend URI must stay in the Secret"
    secret = json.dumps(resources["mlflow-backend"]["inputs"])
    assert "postgresql+pg8000://mlflow:[secret]@mlflow-db-rds" in secret, resources["mlflow-backend"]["urn"]
    assert resources["mlflow-service"]["inputs"]["spec"]["type"] == "ClusterIP"


def test_prod_rds_is_encrypted_private_and_open_only_to_the_cluster():
    resources = _resources("prod")
    rds = resources["mlflow-db-rds"]["inputs"]
    assert rds["storageEncrypted"] is True and rds["publiclyAccessible"] is False and rds["deletionProtection"] is True
    assert rds["multiAz"] is True and rds["instanceClass"] == PROD.mlflow.rds.instance_class
    ingress = resources["mlflow-db-sg"]["inputs"]["ingress"]
    assert len(ingress) == 1 and ingress[0]["securityGroups"] == ["sg-ml-serving-prod-eks-managed"] and "cidrBlocks" not in ingress[0]
    policy = json.loads(resources["mlflow-role-policy"]["inputs"]["policy"])
    objects = policy["Statement"][0]
    assert objects["Resource"].endswith("/mlflow/*"), "the MLflow role reaches only its bucket prefix"


def test_dev_runs_an_in_cluster_postgres_and_no_rds():
    resources = _resources("dev")
    assert "mlflow-postgres-statefulset" in resources and "mlflow-db-rds" not in resources
    assert "mlflow-postgres" in json.dumps(resources["mlflow-backend"]["inputs"])
