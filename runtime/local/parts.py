"""The parts of the local platform as commands: MLflow, one model server per variant, the
gateway and the drift monitor, each started through its entry point (runtime/wiring.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from runtime.local.layout import LOCAL_REGISTRY_ENV, REPO_ROOT, Layout, VariantSlot
from runtime.local.process import PartSpec
from runtime.modelserver.threads import SETTING_ENV

__all__ = ["mlflow_part", "model_server_part", "gateway_part", "monitor_part"]


def _python(*args: str) -> tuple[str, ...]:
    return (sys.executable, *args)


def mlflow_part(layout: Layout) -> PartSpec:
    state = layout.state_dir
    return PartSpec(
        name="mlflow",
        argv=_python(
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{state / 'mlflow.db'}",
            "--artifacts-destination",
            str(state / "artifacts"),
            "--host",
            layout.host,
            "--port",
            str(layout.mlflow_port),
            "--workers",
            "1",
        ),
        host=layout.host,
        port=layout.mlflow_port,
        ready_path="/health",
        # The registry needs no server-side jobs (GenAI evaluation); they would fork eight workers.
        env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        cwd=state,
        port_hint="choose another with --mlflow-port or ML_SERVING_LOCAL_MLFLOW_PORT",
    )


def model_server_part(layout: Layout, slot: VariantSlot) -> PartSpec:
    argv = [
        "-m",
        "runtime.modelserver",
        "--model_name",
        slot.served_name,
        "--model_dir",
        slot.uri,
        "--host",
        layout.host,
        "--http_port",
        str(slot.port),
        # One thread a predict unless told otherwise: the machine's cores are shared by every
        # model server and the other parts (runtime/modelserver/threads.py: what more cost then).
        "--predict_threads",
        os.environ.get(SETTING_ENV, "1"),
    ]
    batching = layout.spec.models[slot.model].batching
    if batching is not None:
        argv += ["--max_batch_size", str(batching.max_batch_size), "--max_latency_ms", f"{batching.max_latency_ms:g}"]
    return PartSpec(
        name=slot.part_name,
        argv=_python(*argv),
        host=layout.host,
        port=slot.port,
        ready_path="/v2/health/ready",
        env={
            "MLFLOW_TRACKING_URI": layout.tracking_uri,
            **{key: os.environ.get(key, value) for key, value in LOCAL_REGISTRY_ENV.items()},
        },
        cwd=REPO_ROOT,
        port_hint=(
            "model servers take consecutive ports from --model-server-base-port "
            "(ML_SERVING_LOCAL_MODEL_SERVER_BASE_PORT)"
        ),
    )


def gateway_part(layout: Layout, token_file: Path | None, monitor_token_file: Path | None = None) -> PartSpec:
    env = {"ML_SERVING_GATEWAY_TOKENS_FILE": str(token_file)} if token_file else {}
    if monitor_token_file is not None:
        env["ML_SERVING_GATEWAY_MONITOR_TOKEN_FILE"] = str(monitor_token_file)
    return PartSpec(
        name="gateway",
        argv=_python(
            "-m",
            "runtime.gateway",
            "--config",
            str(layout.gateway_config_path),
            "--host",
            layout.host,
            "--port",
            str(layout.gateway_port),
            "--grpc-port",
            str(layout.gateway_grpc_port),
        ),
        host=layout.host,
        port=layout.gateway_port,
        ready_path="/v2/health/ready",
        env=env,
        cwd=REPO_ROOT,
        port_hint=(
            "choose others with --gateway-port / --gateway-grpc-port "
            "(ML_SERVING_LOCAL_GATEWAY_PORT / ML_SERVING_LOCAL_GATEWAY_GRPC_PORT)"
        ),
    )


def monitor_part(layout: Layout, token_file: Path, gateway_token_file: Path | None = None) -> PartSpec:
    """``gateway_token_file``: the gateway's token, for reading its report (experiment guardrails)."""
    env = {"ML_SERVING_DRIFT_TOKENS_FILE": str(token_file)}
    if gateway_token_file:
        env["ML_SERVING_DRIFT_GATEWAY_TOKEN_FILE"] = str(gateway_token_file)
    return PartSpec(
        name="drift monitor",
        argv=_python(
            "-m",
            "runtime.drift",
            "--config",
            str(layout.monitor_config_path),
            "--host",
            layout.host,
            "--port",
            str(layout.monitor_port),
        ),
        host=layout.host,
        port=layout.monitor_port,
        ready_path="/healthz",
        env=env,
        cwd=REPO_ROOT,
        port_hint="choose another with --monitor-port or ML_SERVING_LOCAL_MONITOR_PORT",
    )
