"""Drift monitor component: workload, persistent state, config with the lock's reference profiles."""

from __future__ import annotations

import pulumi

from components.monitor import STATE_DIR, TOKEN_KEY, TOKEN_SECRET, DriftMonitor, DriftMonitorArgs
from runtime.spec import load_stack
from runtime.wiring import MonitorConfig
from tests.components.authz import Request, allowed
from tests.components.locks import lock_for
from tests.components.recorded import of_kind, schema_problems, settled
from tests.components.renders import stack_renders

PROD = load_stack("prod")
LOCK = lock_for(PROD, {"champion": 8})


@pulumi.runtime.test
def test_monitor_has_state_volume_and_the_locked_profiles():
    component = DriftMonitor(
        "t-drift",
        DriftMonitorArgs(
            spec=PROD, lock=LOCK, namespace="ml-serving", mlflow_url="http://mlflow.ml-serving.svc.cluster.local:5000"
        ),
    )

    def check(urn: str) -> None:
        [(cm_urn, config_map)] = of_kind(urn, "ConfigMap")
        config = MonitorConfig.model_validate_json(config_map["data"]["monitor.json"])
        assert sorted(config.models) == ["fraud", "recommender", "vision"], cm_urn
        assert config.profiles["fraud"]["v6"] == LOCK.versions["models:/fraud/6"].profile_uri, cm_urn
        assert config.profiles["vision"]["champion"] == LOCK.versions["models:/vision-resnet@champion"].profile_uri, (
            cm_urn
        )
        assert config.state_dir == STATE_DIR, cm_urn
        [(pvc_urn, claim)] = of_kind(urn, "PersistentVolumeClaim")
        assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi", pvc_urn
        [(dep_urn, deployment)] = of_kind(urn, "Deployment")
        pod = deployment["spec"]["template"]["spec"]
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}, dep_urn
        mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes[mounts[STATE_DIR]]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"], dep_urn
        assert pod["containers"][0]["command"] == ["python", "-m", "runtime.drift"], dep_urn
        # The experiment's guardrails: the gateway's report through its Service, with its token.
        assert config.gateway_url == "http://ml-serving-gateway.ml-serving.svc.cluster.local:8080", cm_urn
        assert config.models["recommender"].experiment is not None, cm_urn
        env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
        token_file = env["ML_SERVING_DRIFT_GATEWAY_TOKEN_FILE"]
        secret = volumes[mounts[token_file.rsplit("/", 1)[0]]]["secret"]
        assert secret == {"secretName": "ml-serving-gateway-tokens", "optional": True}, dep_urn
        assert schema_problems(urn) == []

    return settled(component, component.config_map, component.state, component.deployment, component.service).apply(
        check
    )


@pulumi.runtime.test
def test_webhook_secret_reaches_the_monitor():
    component = DriftMonitor(
        "t-drift-alerts",
        DriftMonitorArgs(
            spec=PROD, lock=LOCK, namespace="ml-serving", webhook_url=pulumi.Output.secret("https://hooks.example/x")
        ),
    )

    def check(urn: str) -> None:
        [(secret_urn, secret)] = [
            (u, m) for u, m in of_kind(urn, "Secret") if m["metadata"]["name"].endswith("-webhook")
        ]
        assert secret["stringData"]["url"] == "https://hooks.example/x", secret_urn
        [(dep_urn, deployment)] = of_kind(urn, "Deployment")
        env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        ref = env["ML_SERVING_DRIFT_WEBHOOK_URL"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": secret["metadata"]["name"], "key": "url"}, dep_urn
        # Where the monitor serves its metrics, for the mesh to merge (components.monitoring scrapes them).
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == "8090" and annotations["prometheus.io/path"] == "/metrics", dep_urn
        assert schema_problems(urn) == []

    return settled(component, component.webhook, component.deployment).apply(check)


@pulumi.runtime.test
def test_no_webhook_unless_asked():
    component = DriftMonitor("t-drift-plain", DriftMonitorArgs(spec=PROD, lock=LOCK, namespace="ml-serving"))

    def check(urn: str) -> None:
        # The alert rules are the monitoring component's (components.monitoring).
        assert of_kind(urn, "PrometheusRule") == [], urn
        assert [m["metadata"]["name"] for _, m in of_kind(urn, "Secret")] == [TOKEN_SECRET], urn

    return settled(component, component.deployment).apply(check)


def _prod_with_clients(clients: list[str]):
    from runtime.spec import STACKS_DIR, read_stack_config, validate_config

    config, _ = read_stack_config(STACKS_DIR / "Pulumi.prod.yaml")
    config["ml-serving:platform"]["monitor"] = {**config["ml-serving:platform"].get("monitor", {}), "clients": clients}
    return validate_config(config, "prod")


@pulumi.runtime.test
def test_only_the_gateway_posts_rows_and_every_caller_needs_the_generated_token():
    component = DriftMonitor(
        "t-drift-authz",
        DriftMonitorArgs(spec=_prod_with_clients(["ml-ops/label-joiner"]), lock=LOCK, namespace="ml-serving"),
    )

    def check(urn: str) -> None:
        [(authz_urn, authz)] = of_kind(urn, "AuthorizationPolicy")
        [(_, deployment)] = of_kind(urn, "Deployment")
        assert (
            authz["spec"]["selector"]["matchLabels"].items()
            <= deployment["spec"]["template"]["metadata"]["labels"].items()
        ), authz_urn
        policies = [authz["spec"]]
        gateway = "cluster.local/ns/ml-serving/sa/ml-serving-gateway"
        joiner = "cluster.local/ns/ml-ops/sa/label-joiner"
        other = "cluster.local/ns/ml-serving/sa/default"
        verdicts = {
            (gateway, "POST", "/ingest"): True,
            (other, "POST", "/ingest"): False,
            (None, "POST", "/ingest"): False,
            (other, "POST", "/cloudevents"): False,
            (joiner, "POST", "/ingest"): False,
            (joiner, "POST", "/labels/fraud"): True,
            (joiner, "GET", "/report/fraud"): True,
            (gateway, "POST", "/labels/fraud"): False,
            (other, "GET", "/status/fraud"): False,
            (other, "GET", "/metrics"): True,
            (None, "GET", "/healthz"): True,
            (other, "POST", "/metrics"): False,
        }
        for (principal, method, path), expected in verdicts.items():
            assert allowed(policies, Request(principal, method, path)) is expected, (authz_urn, principal, method, path)
        [(secret_urn, secret)] = of_kind(urn, "Secret")
        assert secret["metadata"]["name"] == TOKEN_SECRET and secret["stringData"][TOKEN_KEY], secret_urn
        pod = deployment["spec"]["template"]["spec"]
        env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
        mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "token")
        assert env["ML_SERVING_DRIFT_TOKENS_FILE"] == f"{mount['mountPath']}/{TOKEN_KEY}", secret_urn
        assert {"name": "token", "secret": {"secretName": TOKEN_SECRET}} in pod["volumes"], secret_urn
        assert schema_problems(urn) == []

    return settled(component, component.authorization, component.token, component.deployment).apply(check)


def test_the_monitor_and_its_claim_start_after_istiod_and_the_storage_class():
    from components.deployability.render_view import RenderView

    document = stack_renders()["prod"]
    urn = {r["name"]: r["urn"] for r in document["resources"]}
    for name in ("drift-deployment", "drift-state"):
        waits = RenderView(document).waits_for(urn[name])
        assert {urn["mesh-istiod"], urn["cluster-ebs-class"]} <= waits, urn[name]
    claim = next(r for r in document["resources"] if r["name"] == "drift-state")
    assert claim["inputs"]["spec"]["storageClassName"] == "gp3", claim["urn"]
