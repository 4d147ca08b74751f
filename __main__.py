"""The ml-serving Pulumi program: read the stack config, validate it, wire the components."""

import json

import pulumi

from components.artifacts import ArtifactStore, ArtifactStoreArgs
from components.cluster import Cluster, ClusterArgs
from components.mesh import Mesh, MeshArgs
from components.mlflow_server import MlflowServer, MlflowServerArgs
from components.serving import Serving, ServingArgs
from runtime.spec import PROJECT, validate_config

config = pulumi.Config(PROJECT)
spec = validate_config(
    {f"{PROJECT}:platform": config.require_object("platform"), f"{PROJECT}:models": config.require_object("models")},
    pulumi.get_stack(),
)

platform = spec.platform
cluster = Cluster(
    "cluster",
    ClusterArgs(platform.cluster, platform.versions, platform.namespace, cluster_name=f"{PROJECT}-{spec.stack}"),
)
provider, namespace = cluster.provider, cluster.namespace  # every in-cluster resource uses these
artifacts = ArtifactStore("artifacts", ArtifactStoreArgs(platform.artifacts)) if cluster.is_eks else None
mlflow = MlflowServer(
    "mlflow",
    MlflowServerArgs(platform.mlflow, platform.versions, platform.images.runtime, cluster, artifacts, platform.artifacts.retain_on_delete),
)
mesh = Mesh("mesh", MeshArgs(platform.versions, cluster))
serving = Serving(
    "serving", ServingArgs(platform.versions, cluster, platform.images.runtime, mlflow.url, depends_on=tuple(mesh.ready))
)

pulumi.export("namespace", spec.platform.namespace)
pulumi.export("kubeconfig", pulumi.Output.secret(cluster.kubeconfig) if cluster.kubeconfig else None)
pulumi.export("mlflowUrl", mlflow.url)
pulumi.export("artifactBucket", artifacts.bucket_name if artifacts else None)
pulumi.export("servingRuntime", serving.runtime_name)
pulumi.export(
    "models",
    {name: {v.variant_name: {"uri": v.model, "role": v.role} for v in model.variants} for name, model in spec.models.items()},
)
pulumi.export("specJson", json.dumps(spec.model_dump(mode="json", by_alias=True), sort_keys=True))
