"""The ml-serving Pulumi program: read the stack config, validate it, wire the components."""

import json
import os
from pathlib import Path

import pulumi

from components.artifacts import ArtifactStore, ArtifactStoreArgs
from components.cluster import Cluster, ClusterArgs
from components.gateway import Gateway, GatewayArgs
from components.mesh import Mesh, MeshArgs
from components.mlflow_server import MlflowServer, MlflowServerArgs
from components.monitor import TOKEN_SECRET, DriftMonitor, DriftMonitorArgs
from components.monitoring import MonitoringStack, MonitoringStackArgs
from components.predictor_identity import PredictorIdentity, PredictorIdentityArgs
from components.rollout import ModelRollout, ModelRolloutArgs
from components.serving import Serving, ServingArgs
from runtime.registry.lock import load_checked_lock
from runtime.spec import PROJECT, require_secrets, validate_config

config = pulumi.Config(PROJECT)
spec = validate_config(
    {f"{PROJECT}:platform": config.require_object("platform"), f"{PROJECT}:models": config.require_object("models")},
    pulumi.get_stack(),
)
require_secrets(spec, lambda key: config.get_secret(key.split(":", 1)[1]) is not None)
# Versions come from the committed lock beside the stack file, never the registry.
stacks_dir = os.environ.get("ML_SERVING_STACKS_DIR")
lock = load_checked_lock(spec, Path(stacks_dir) if stacks_dir else None)

platform = spec.platform
cluster = Cluster(
    "cluster",
    ClusterArgs(
        cluster=platform.cluster,
        versions=platform.versions,
        namespace=platform.namespace,
        cluster_name=f"{PROJECT}-{spec.stack}",
    ),
)
provider, namespace = cluster.provider, cluster.namespace  # every in-cluster resource uses these
artifacts = ArtifactStore("artifacts", ArtifactStoreArgs(artifacts=platform.artifacts)) if cluster.is_eks else None
mesh = Mesh("mesh", MeshArgs(versions=platform.versions, cluster=cluster))
# Pods that must start with a sidecar wait for istiod; those that claim volumes for the StorageClass.
workload_ready = (*mesh.ready, *cluster.storage_ready)
mlflow = MlflowServer(
    "mlflow",
    MlflowServerArgs(
        mlflow=platform.mlflow,
        versions=platform.versions,
        image=platform.images.runtime,
        cluster=cluster,
        artifacts=artifacts,
        retain=platform.artifacts.retain_on_delete,
        depends_on=workload_ready,
    ),
)
serving = Serving(
    "serving",
    ServingArgs(
        versions=platform.versions,
        cluster=cluster,
        image=platform.images.runtime,
        mlflow_url=mlflow.url,
        mlflow_auth=platform.mlflow.auth,
        depends_on=tuple(mesh.ready),
    ),
)
k8s_args = {"namespace": namespace.metadata["name"], "provider": provider}
predictors = PredictorIdentity("predictors", PredictorIdentityArgs(cluster=cluster, artifacts=artifacts))
rollouts = {
    name: ModelRollout(
        f"rollout-{name}",
        ModelRolloutArgs(
            model=name,
            spec=model,
            lock=lock,
            **k8s_args,
            artifacts_destination=mlflow.artifacts_destination,
            service_account_name=predictors.name,
            gpu_image=spec.platform.images.runtime_gpu,
            depends_on=(serving.serving_runtime, predictors.service_account, *mesh.ready),
        ),
    )
    for name, model in spec.models.items()
}
monitor = DriftMonitor(
    "drift",
    DriftMonitorArgs(
        spec=spec,
        lock=lock,
        **k8s_args,
        mlflow_url=mlflow.url,
        mlflow_auth=platform.mlflow.auth,
        webhook_url=config.get_secret("alertWebhookUrl"),
        depends_on=workload_ready,
        storage_class=cluster.storage_class_name,
    ),
)
monitoring = MonitoringStack(
    "monitoring",
    MonitoringStackArgs(
        spec=spec, **k8s_args, storage_class=cluster.storage_class_name, depends_on=tuple(cluster.storage_ready)
    ),
)
gateway = Gateway(
    "gateway",
    GatewayArgs(
        spec=spec,
        **k8s_args,
        tokens=config.get_secret("gatewayTokens"),
        monitor_url=monitor.url,
        monitor_token_secret=TOKEN_SECRET,
        depends_on=(*mesh.ready, *rollouts.values(), monitor.token),
    ),
)

pulumi.export("namespace", spec.platform.namespace)
pulumi.export("kubeconfig", pulumi.Output.secret(cluster.kubeconfig) if cluster.kubeconfig else None)
pulumi.export("mlflowUrl", mlflow.url)
pulumi.export("artifactBucket", artifacts.bucket_name if artifacts else None)
pulumi.export("servingRuntime", serving.runtime_name)
pulumi.export("gatewayUrl", gateway.url)
pulumi.export("prometheusUrl", monitoring.url)
pulumi.export(
    "models",
    {
        name: {
            "url": pulumi.Output.concat(gateway.url, f"/v2/models/{name}/infer"),
            "variants": rollout.variants,
        }
        for name, rollout in rollouts.items()
    },
)
pulumi.export("specJson", json.dumps(spec.model_dump(mode="json", by_alias=True), sort_keys=True))
