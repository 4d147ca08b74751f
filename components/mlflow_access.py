"""Who may reach the MLflow server, and as whom.

Two layers. The mesh: an Istio AuthorizationPolicy (ALLOW) on the MLflow pods lets the training
and CI identities (``mlflow.writers``) do anything, the platform's own parts (predictors, the
drift monitor) only read (GET, HEAD), and anyone reach ``/health`` (the kubelet's probes); every
other workload is refused, so no pod can register a version or move an alias. People: MLflow's
own auth app (``mlflow server --app-name basic-auth``); its admin password, CSRF key and the
platform's reader password are generated into one Secret (``AUTH_SECRET``), and only references
to it appear in pod specs.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.predictor_identity import PREDICTOR_SERVICE_ACCOUNT
from runtime.registry.users import ADMIN_USERNAME, READER_USERNAME, basic_auth_ini

__all__ = [
    "AUTH_SECRET",
    "REGISTRY_READERS",
    "MONITOR_SERVICE_ACCOUNT",
    "access_policy",
    "auth_secret",
    "reader_env",
    "server_auth",
]

MONITOR_SERVICE_ACCOUNT = "ml-serving-drift"
"""The drift monitor's identity (it downloads reference profiles)."""
REGISTRY_READERS = (PREDICTOR_SERVICE_ACCOUNT, MONITOR_SERVICE_ACCOUNT)
"""Service accounts of the platform's namespace that read the registry: predictors load models,
the drift monitor downloads profiles."""

AUTH_SECRET = "mlflow-auth"
_ADMIN_KEY, _FLASK_KEY, _READER_KEY, _INI_KEY = (
    "admin-password",
    "flask-secret-key",
    "reader-password",
    "basic_auth.ini",
)
_AUTH_MOUNT = "/etc/mlflow-auth"
_READ_METHODS = ["GET", "HEAD"]


def _principal(namespace: str, account: str) -> str:
    return f"cluster.local/ns/{namespace}/sa/{account}"


def access_policy(namespace: str, writers: list[str], readers: list[str], labels: dict[str, str]) -> dict:
    """The AuthorizationPolicy's spec: ``writers`` (``namespace/name``) anything, ``readers``
    (service accounts of ``namespace``) GET and HEAD, anyone ``GET /health``."""
    rules: list[dict] = [{"to": [{"operation": {"methods": ["GET"], "paths": ["/health"]}}]}]
    if readers:
        rules.append(
            {
                "from": [{"source": {"principals": [_principal(namespace, r) for r in readers]}}],
                "to": [{"operation": {"methods": _READ_METHODS}}],
            }
        )
    if writers:
        rules.append({"from": [{"source": {"principals": [_principal(*w.split("/", 1)) for w in writers]}}]})
    return {"selector": {"matchLabels": labels}, "action": "ALLOW", "rules": rules}


def auth_secret(
    name: str,
    namespace: pulumi.Input[str],
    backend_uri: pulumi.Input[str],
    labels: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> k8s.core.v1.Secret:
    """Generated passwords and the auth app's configuration (its user table lives in the backend
    store's database, so the configuration holds that URI and is a Secret too)."""
    parent = pulumi.ResourceOptions(parent=opts.parent)
    admin, flask, reader = (
        random.RandomPassword(f"{name}-{part}", length=32, special=False, opts=parent)
        for part in ("admin", "flask", "reader")
    )
    ini = pulumi.Output.from_input(backend_uri).apply(basic_auth_ini)
    return k8s.core.v1.Secret(
        name,
        metadata={"name": AUTH_SECRET, "namespace": namespace, "labels": labels},
        type="Opaque",
        string_data={_ADMIN_KEY: admin.result, _FLASK_KEY: flask.result, _READER_KEY: reader.result, _INI_KEY: ini},
        opts=opts,
    )


def _ref(key: str) -> dict:
    return {"valueFrom": {"secretKeyRef": {"name": AUTH_SECRET, "key": key}}}


def server_auth() -> tuple[list[str], list[dict], dict, dict, dict]:
    """What the MLflow container adds for the auth app: (args, env, volume, mount, lifecycle)."""
    env = [
        {"name": "MLFLOW_AUTH_CONFIG_PATH", "value": f"{_AUTH_MOUNT}/{_INI_KEY}"},
        {"name": "MLFLOW_AUTH_ADMIN_USERNAME", "value": ADMIN_USERNAME},
        {"name": "MLFLOW_AUTH_ADMIN_PASSWORD", **_ref(_ADMIN_KEY)},
        {"name": "MLFLOW_FLASK_SERVER_SECRET_KEY", **_ref(_FLASK_KEY)},
        {"name": "ML_SERVING_MLFLOW_READER_PASSWORD", **_ref(_READER_KEY)},
    ]
    volume = {"name": "auth", "secret": {"secretName": AUTH_SECRET, "items": [{"key": _INI_KEY, "path": _INI_KEY}]}}
    mount = {"name": "auth", "mountPath": _AUTH_MOUNT, "readOnly": True}
    # Runs beside the server once the container starts; the pod is not Running until it is done.
    lifecycle = {"postStart": {"exec": {"command": ["python", "-m", "runtime.registry.users", "--timeout", "300"]}}}
    return ["--app-name", "basic-auth"], env, volume, mount, lifecycle


def reader_env() -> list[dict]:
    """Env of a platform part that reads the registry (the MLflow client reads these)."""
    return [
        {"name": "MLFLOW_TRACKING_USERNAME", "value": READER_USERNAME},
        {"name": "MLFLOW_TRACKING_PASSWORD", **_ref(_READER_KEY)},
    ]
