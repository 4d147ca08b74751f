"""The cluster's MLflow path run with real parts, from the render of the dev stack.

The MLflow server runs with its container's command, arguments and environment exactly as the
render gives them (the backend URI and auth secrets from its Secrets, its mounted auth config,
``--artifacts-destination s3://<bucket>/mlflow``, the basic-auth app and its postStart hook),
against a real PostgreSQL (Debian's package) and an S3-compatible endpoint (moto's server). What
differs, because this is one machine on loopback: the bind address and port (``--host``,
``--port``, that address added to ``--allowed-hosts``, and the hook's ``--tracking-uri``), the
database host and port and every generated secret (the render holds placeholders), the Secret
volume's mount path, and the AWS credentials and S3 endpoint (IRSA and S3 in the cluster).
Registration goes through it as the admin. A version registered through the server must land under
the rendered bucket prefix; the lock resolves it; the model server, started with the rendered
ClusterServingRuntime's arguments, loads it from the ``s3://`` storage URI the rollout names,
downloaded the way KServe's storage initializer does, and answers a V2 request.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
import tritonclient.http as triton

from components.schema import kubernetes_objects
from runtime.registry.lock import storage_location
from runtime.registry.register import register_model
from runtime.registry.resolve import resolve_lock
from runtime.spec import SECRET_PLACEHOLDER, load_stack
from runtime.wiring import SERVING_RUNTIME_NAME
from tests.components.cluster_parts import postgres, s3_client, s3_server, stop, wait_until
from tests.components.renders import ROOT, stack_renders
from tests.ports import free_port
from tests.runtime.modelserver.servers import features

STACK = "dev"
PASSWORD = "rendered-Password_1"
# The rendered URI's password is the render's placeholder, so the URI is taken apart by hand.
_BACKEND = re.compile(
    r"(?P<scheme>[^:]+)://(?P<user>[^:]+):(?P<password>.*)@(?P<host>[^:/]+):(?P<port>[0-9]+)/(?P<database>\w+)"
)
AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-west-2"}


def _object(kind: str, name: str) -> dict:
    return next(
        m for _, m in kubernetes_objects(stack_renders()[STACK]) if m["kind"] == kind and m["metadata"]["name"] == name
    )


def _expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion of container arguments."""
    return re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), value)


def _with(args: list[str], flag: str, value: str) -> list[str]:
    out = list(args)
    out[out.index(flag) + 1] = value
    return out


def _download_like_the_storage_initializer(uri: str, endpoint: str, out: Path) -> list[str]:
    """kserve_storage.Storage._download_s3 (v0.16.0): list the prefix, fetch each object to its
    path below the prefix (the initializer takes the endpoint from AWS_ENDPOINT_URL; here, moto's)."""
    parsed = urlsplit(uri)
    prefix = parsed.path.lstrip("/")
    s3 = s3_client(endpoint)
    listed = s3.list_objects_v2(Bucket=parsed.netloc, Prefix=prefix).get("Contents", [])
    keys = [o["Key"] for o in listed if not o["Key"].endswith("/")]
    for key in keys:
        target = out / key.removeprefix(prefix).lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(parsed.netloc, key, str(target))
    return keys


@pytest.mark.slow
def _pod_env(container: dict, replace: dict[str, str]) -> dict[str, str]:
    """The container's environment as the kubelet builds it: values, and Secret keys read from
    the rendered Secrets, with ``replace`` applied (placeholder password, in-cluster hosts)."""
    env = {}
    for var in container.get("env") or []:
        if "value" in var:
            value = var["value"]
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            value = _object("Secret", ref["name"])["stringData"][ref["key"]]
        for old, new in replace.items():
            value = value.replace(old, new)
        env[var["name"]] = value
    return env


def _mount_secrets(pod: dict, container: dict, root: Path, replace: dict[str, str]) -> dict[str, str]:
    """Write each Secret volume the container mounts below ``root``; mount path -> local folder."""
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    mounted = {}
    for mount in container.get("volumeMounts") or []:
        secret = (volumes.get(mount["name"]) or {}).get("secret")
        if not secret:
            continue
        folder = root / mount["name"]
        folder.mkdir(parents=True)
        for key, value in _object("Secret", secret["secretName"])["stringData"].items():
            for old, new in replace.items():
                value = value.replace(old, new)
            (folder / key).write_text(value)
        mounted[mount["mountPath"]] = str(folder)
    return mounted


@pytest.mark.slow
# Five processes (PostgreSQL, moto, MLflow with two workers and its auth migrations, the model
# server) on a machine that may be shared: a generous ceiling, not the expected time.
@pytest.mark.timeout(900)
def test_the_rendered_mlflow_server_on_postgres_and_s3_serves_a_version_from_its_s3_uri(tmp_path, monkeypatch):
    stack_renders()  # the render of every stack, shared with the other tests
    _progress = _clock()
    deployment = _object("Deployment", "mlflow")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    secret_ref = next(v for v in container["env"] if v["name"] == "MLFLOW_BACKEND_STORE_URI")["valueFrom"][
        "secretKeyRef"
    ]
    rendered_uri = _object("Secret", secret_ref["name"])["stringData"][secret_ref["key"]]
    backend = _BACKEND.fullmatch(rendered_uri)
    assert backend and backend["scheme"] == "postgresql+pg8000" and backend["port"] == "5432", rendered_uri
    destination = container["args"][container["args"].index("--artifacts-destination") + 1]
    bucket, prefix = urlsplit(destination).netloc, urlsplit(destination).path.strip("/")
    assert destination.startswith("s3://") and prefix == "mlflow", destination

    _progress("rendered parts read")
    with (
        postgres(backend["user"], PASSWORD, backend["database"]) as (db_host, db_port),
        s3_server(tmp_path) as endpoint,
    ):
        _progress("postgres and s3 up")
        s3_client(endpoint).create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        # Every generated secret is the render's placeholder; the database is here, not in-cluster.
        replace = {SECRET_PLACEHOLDER: PASSWORD, f"{backend['host']}:{backend['port']}": f"{db_host}:{db_port}"}
        mounts = _mount_secrets(pod, container, tmp_path / "mounts", replace)
        env = _pod_env(container, replace)
        for name in list(env):
            for mount_path, folder in mounts.items():
                env[name] = env[name].replace(mount_path, folder)
        env |= {**AWS, "MLFLOW_S3_ENDPOINT_URL": endpoint}
        port = free_port()
        args = [_expand(a, env) for a in container["args"]]
        args = _with(_with(args, "--host", "127.0.0.1"), "--port", str(port))
        args = _with(args, "--allowed-hosts", args[args.index("--allowed-hosts") + 1] + f",127.0.0.1:{port}")
        command = [str(Path(sys.executable).parent / container["command"][0]), *container["command"][1:], *args]
        log = tmp_path / "mlflow.log"
        with log.open("wb") as handle:
            server = subprocess.Popen(
                command, env={**os.environ, **env}, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
            )
        url = f"http://127.0.0.1:{port}"
        model_server = None
        try:
            # The postStart hook, as the kubelet runs it once the container has started.
            hook = container["lifecycle"]["postStart"]["exec"]["command"]
            subprocess.run(
                [sys.executable, *hook[1:], "--tracking-uri", url],
                env={**os.environ, **env},
                cwd=ROOT,
                check=True,
                timeout=120,
                capture_output=True,
            )
            wait_until(lambda: _healthy(f"{url}/health"), "mlflow server", 30, server, log)
            _progress("mlflow server healthy, reader account made")
            monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", env["MLFLOW_AUTH_ADMIN_USERNAME"])
            monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", env["MLFLOW_AUTH_ADMIN_PASSWORD"])
            data = features(200, seed=3)
            target = data["amount"] * 0.1 + data["count"]
            from sklearn.linear_model import LinearRegression

            model = LinearRegression().fit(data, target)
            registered = register_model(
                model,
                name="fraud",
                features=data,
                target=target,
                dataset_source="synthetic://real-parts",
                tracking_uri=url,
                code_path=ROOT,
            )
            _progress(f"registered version {registered.version}")
            keys = [o["Key"] for o in s3_client(endpoint).list_objects_v2(Bucket=bucket).get("Contents", [])]
            assert keys and all(k.startswith(f"{prefix}/") for k in keys), keys
            assert any(k.endswith("/MLmodel") for k in keys), keys

            spec = load_stack(STACK)
            fraud = spec.models["fraud"]
            only = fraud.model_copy(
                update={
                    "variants": [fraud.variants[0].model_copy(update={"model": f"models:/fraud/{registered.version}"})]
                }
            )
            lock = resolve_lock(spec.model_copy(update={"models": {"fraud": only}}), url)
            storage_uri = storage_location(
                lock.versions[f"models:/fraud/{registered.version}"].storage_uri, destination
            )
            assert storage_uri.startswith(f"s3://{bucket}/{prefix}/"), storage_uri

            model_dir = tmp_path / "mnt-models"
            downloaded = _download_like_the_storage_initializer(storage_uri, endpoint, model_dir)
            assert any(k.endswith("MLmodel") for k in downloaded) and (model_dir / "MLmodel").exists(), downloaded

            runtime = _object("ClusterServingRuntime", SERVING_RUNTIME_NAME)["spec"]["containers"][0]
            isvc = next(m for _, m in kubernetes_objects(stack_renders()[STACK]) if m["kind"] == "InferenceService")
            name, model_env = (
                isvc["metadata"]["name"],
                {e["name"]: e["value"] for e in isvc["spec"]["predictor"]["model"].get("env", [])},
            )
            assert isvc["spec"]["predictor"]["model"]["runtime"] == SERVING_RUNTIME_NAME, isvc["metadata"]
            serve_port = free_port()
            serve_args = [a.replace("{{.Name}}", name) for a in runtime["args"]]
            serve_args = _with(
                _with(_with(serve_args, "--model_dir", str(model_dir)), "--host", "127.0.0.1"),
                "--http_port",
                str(serve_port),
            )
            serve_log = tmp_path / "modelserver.log"
            with serve_log.open("wb") as handle:
                model_server = subprocess.Popen(
                    [sys.executable, *runtime["command"][1:], *serve_args],
                    cwd=ROOT,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, **_pod_env(runtime, replace), **model_env, "MLFLOW_TRACKING_URI": url},
                    start_new_session=True,
                )
            wait_until(
                lambda: _healthy(f"http://127.0.0.1:{serve_port}/v2/health/ready"),
                "model server",
                90,
                model_server,
                serve_log,
            )
            _progress("model server ready")

            rows = features(5, seed=9)
            client = triton.InferenceServerClient(f"127.0.0.1:{serve_port}")
            inputs = []
            for column in rows.columns:
                values = rows[column].to_numpy()
                tensor = triton.InferInput(column, [len(rows)], "INT64" if values.dtype.kind == "i" else "FP64")
                tensor.set_data_from_numpy(
                    values.astype(np.int64 if values.dtype.kind == "i" else np.float64), binary_data=False
                )
                inputs.append(tensor)
            result = client.infer(name, inputs)
            answer = result.as_numpy(result.get_response()["outputs"][0]["name"])
            assert answer == pytest.approx(model.predict(rows), rel=1e-9)
        finally:
            if model_server is not None:
                stop(model_server)
            stop(server)


def _clock():
    started = time.monotonic()
    return lambda what: print(f"[{time.monotonic() - started:6.1f} s] {what}", flush=True)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False
