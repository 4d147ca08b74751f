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
    return Cluster(
        name,
        ClusterArgs(
            cluster=platform.cluster,
            versions=platform.versions,
            namespace=platform.namespace,
            cluster_name=f"ml-serving-{name}",
        ),
    )


@pulumi.runtime.test
def test_server_account_carries_an_irsa_role_and_the_url_is_cluster_local():
    cluster = _cluster("mlflow-eks", PROD)
    store = ArtifactStore("mlflow-eks-store", ArtifactStoreArgs(artifacts=PROD.artifacts))
    server = MlflowServer(
        "mlflow-eks",
        MlflowServerArgs(
            mlflow=PROD.mlflow,
            versions=PROD.versions,
            image=PROD.images.runtime,
            cluster=cluster,
            artifacts=store,
            retain=True,
        ),
    )
    account = server.service_account

    def check(args):
        urn, metadata, url = args
        assert metadata["annotations"]["eks.amazonaws.com/role-arn"].endswith("role/mlflow-eks-role"), urn
        assert url == "http://mlflow.ml-serving.svc.cluster.local:5000", urn

    return pulumi.Output.all(account.urn, account.metadata, server.url).apply(check)


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
    assert env["MLFLOW_BACKEND_STORE_URI"]["valueFrom"]["secretKeyRef"] == {
        "name": "mlflow-backend",
        "key": "backend-store-uri",
    }
    assert args[args.index("--artifacts-destination") + 1].startswith("s3://"), deployment["urn"]
    assert container["image"] == PROD.images.runtime and container["readinessProbe"] and container["livenessProbe"]
    assert container["resources"]["requests"] and container["resources"]["limits"], deployment["urn"]
    assert "postgresql+pg8000://" not in json.dumps(deployment), (
        f"{deployment['urn']}: the backend URI must stay in the Secret"
    )
    secret = json.dumps(resources["mlflow-backend"]["inputs"])
    assert "postgresql+pg8000://mlflow:[secret]@mlflow-db-rds" in secret, resources["mlflow-backend"]["urn"]
    assert resources["mlflow-service"]["inputs"]["spec"]["type"] == "ClusterIP"


def test_prod_rds_is_encrypted_private_and_open_only_to_the_cluster():
    resources = _resources("prod")
    rds = resources["mlflow-db-rds"]["inputs"]
    assert rds["storageEncrypted"] is True and rds["publiclyAccessible"] is False and rds["deletionProtection"] is True
    assert rds["multiAz"] is True and rds["instanceClass"] == PROD.mlflow.rds.instance_class
    ingress = resources["mlflow-db-sg"]["inputs"]["ingress"]
    assert (
        len(ingress) == 1
        and ingress[0]["securityGroups"] == ["sg-ml-serving-prod-eks-managed"]
        and "cidrBlocks" not in ingress[0]
    )
    policy = json.loads(resources["mlflow-role-policy"]["inputs"]["policy"])
    objects = policy["Statement"][0]
    assert objects["Resource"].endswith("/mlflow/*"), "the MLflow role reaches only its bucket prefix"


def test_dev_runs_an_in_cluster_postgres_and_no_rds():
    resources = _resources("dev")
    assert "mlflow-postgres-statefulset" in resources and "mlflow-db-rds" not in resources
    assert "mlflow-postgres" in json.dumps(resources["mlflow-backend"]["inputs"])


@pulumi.runtime.test
def test_only_the_writers_write_the_platform_reads_and_people_sign_in():
    from components.mlflow_access import AUTH_SECRET
    from tests.components.authz import Request, allowed
    from tests.components.recorded import of_kind, schema_problems, settled

    cluster = _cluster("mlflow-access", PROD)
    store = ArtifactStore("mlflow-access-store", ArtifactStoreArgs(artifacts=PROD.artifacts))
    spec = PROD.mlflow.model_copy(update={"writers": ["ml-training/trainer", "ci/release"]})
    server = MlflowServer(
        "mlflow-access",
        MlflowServerArgs(
            mlflow=spec, versions=PROD.versions, image=PROD.images.runtime, cluster=cluster, artifacts=store
        ),
    )

    def check(urn: str) -> None:
        [(authz_urn, authz)] = of_kind(urn, "AuthorizationPolicy")
        [(dep_urn, deployment)] = of_kind(urn, "Deployment")
        pod = deployment["spec"]["template"]
        assert authz["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items(), authz_urn
        policies = [authz["spec"]]
        writer, ci = "cluster.local/ns/ml-training/sa/trainer", "cluster.local/ns/ci/sa/release"
        predictor = "cluster.local/ns/ml-serving/sa/ml-serving-predictor"
        monitor = "cluster.local/ns/ml-serving/sa/ml-serving-drift"
        other = "cluster.local/ns/ml-serving/sa/default"
        register = ("POST", "/api/2.0/mlflow/model-versions/create")
        alias = ("POST", "/api/2.0/mlflow/registered-models/alias")
        download = ("GET", "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model/MLmodel")
        verdicts = {
            (writer, *register): True,
            (ci, *alias): True,
            (writer, *download): True,
            (predictor, *download): True,
            (monitor, *download): True,
            (predictor, *register): False,
            (monitor, *alias): False,
            (predictor, "DELETE", "/api/2.0/mlflow/runs/delete"): False,
            (other, *download): False,
            (other, *register): False,
            (None, *alias): False,
            (other, "GET", "/health"): True,
            (None, "GET", "/health"): True,
        }
        for (principal, method, path), expected in verdicts.items():
            assert allowed(policies, Request(principal, method, path)) is expected, (authz_urn, principal, method, path)

        container = pod["spec"]["containers"][0]
        args, env = container["args"], {e["name"]: e for e in container["env"]}
        assert args[args.index("--app-name") + 1] == "basic-auth", dep_urn
        for name, key in (
            ("MLFLOW_AUTH_ADMIN_PASSWORD", "admin-password"),
            ("MLFLOW_FLASK_SERVER_SECRET_KEY", "flask-secret-key"),
            ("ML_SERVING_MLFLOW_READER_PASSWORD", "reader-password"),
        ):
            assert env[name]["valueFrom"]["secretKeyRef"] == {"name": AUTH_SECRET, "key": key}, (dep_urn, name)
        mount = next(m for m in container["volumeMounts"] if m["name"] == "auth")
        assert env["MLFLOW_AUTH_CONFIG_PATH"]["value"] == f"{mount['mountPath']}/basic_auth.ini", dep_urn
        assert container["lifecycle"]["postStart"]["exec"]["command"][:3] == ["python", "-m", "runtime.registry.users"]
        secrets = {m["metadata"]["name"]: m for _, m in of_kind(urn, "Secret")}
        assert set(secrets[AUTH_SECRET]["stringData"]) == {
            "admin-password",
            "flask-secret-key",
            "reader-password",
            "basic_auth.ini",
        }
        assert "[secret]" not in json.dumps(pod), (
            "the generated passwords (the mocks' '[secret]') never reach the pod spec"
        )
        assert schema_problems(urn) == []

    return settled(server, server.deployment).apply(check)


def test_the_platform_parts_read_the_registry_as_the_reader_account():
    from runtime.registry.users import READER_USERNAME

    resources = _resources("prod")
    runtime = resources["serving-runtime"]["inputs"]["spec"]["containers"][0]
    drift = resources["drift-deployment"]["inputs"]["spec"]["template"]["spec"]
    for where, container in (("serving-runtime", runtime), ("drift-deployment", drift["containers"][0])):
        env = {e["name"]: e for e in container["env"]}
        assert env["MLFLOW_TRACKING_USERNAME"]["value"] == READER_USERNAME, where
        assert env["MLFLOW_TRACKING_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "mlflow-auth",
            "key": "reader-password",
        }, where
    assert drift["serviceAccountName"] == "ml-serving-drift", "the identity the registry's policy lets read"
    assert resources["drift-sa"]["inputs"]["metadata"]["name"] == "ml-serving-drift"


def _waits_for(stack: str, pulumi_type: str, name: str) -> tuple[str, set[str]]:
    from components.deployability.render_view import RenderView

    document = stack_renders()[stack]
    urn = next(r["urn"] for r in document["resources"] if r["type"] == pulumi_type and r["name"] == name)
    return urn, RenderView(document).waits_for(urn)


def _urn(stack: str, name: str) -> str:
    return next(r["urn"] for r in stack_renders()[stack]["resources"] if r["name"] == name)


@pytest.mark.parametrize(
    ("stack", "pulumi_type", "name"),
    [
        ("prod", "kubernetes:apps/v1:Deployment", "mlflow-deployment"),
        ("dev", "kubernetes:apps/v1:StatefulSet", "mlflow-postgres-statefulset"),
        ("local", "kubernetes:apps/v1:Deployment", "mlflow-deployment"),
    ],
)
def test_mlflow_and_its_postgres_start_after_istiods_injector(stack, pulumi_type, name):
    urn, waits = _waits_for(stack, pulumi_type, name)
    assert _urn(stack, "mesh-istiod") in waits, urn
    if stack != "local":
        assert _urn(stack, "cluster-ebs-class") in waits, urn


def test_a_cluster_without_a_bucket_serves_artifacts_from_the_servers_own_claim():
    resources = stack_renders()["local"]["resources"]
    claim = next(
        r for r in resources if r["type"] == "kubernetes:core/v1:PersistentVolumeClaim" and r["name"] == "mlflow-data"
    )
    deployment = next(r for r in resources if r["name"] == "mlflow-deployment")
    args = deployment["inputs"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--artifacts-destination") + 1] == "/var/lib/mlflow/artifacts", deployment["urn"]
    mounts = deployment["inputs"]["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "data", "mountPath": "/var/lib/mlflow"} in mounts, deployment["urn"]
    isvcs = [r for r in resources if r["type"] == "kubernetes:serving.kserve.io/v1beta1:InferenceService"]
    for isvc in isvcs:
        uri = isvc["inputs"]["spec"]["predictor"]["model"]["storageUri"]
        assert uri.startswith(f"pvc://{claim['inputs']['metadata']['name']}/artifacts/"), isvc["urn"]
