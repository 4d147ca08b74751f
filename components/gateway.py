"""The gateway: one per stack, serving every model, the only public entry point.

Deployment (runtime image, ``python -m runtime.gateway``), Service, the ServiceAccount the
predictors' AuthorizationPolicies admit, HPA, PodDisruptionBudget, a ConfigMap holding a
``runtime.wiring.GatewayConfig`` (the validated specs and each variant's predictor URL; its
checksum is on the pod template, so a change rolls the pods), the bearer tokens as a Secret, an
Istio Gateway + VirtualService that expose it on ``platform.gateway.host`` (gRPC, told apart by
its content type, to the gRPC port; everything else to REST), and an AuthorizationPolicy that
lets traffic reach the pods on those two ports only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.rollout import predictor_url
from components.scraping import scrape_annotations
from runtime.spec import ResourcesSpec, StackSpec
from runtime.wiring import (
    GATEWAY_SERVICE_ACCOUNT,
    RUNTIME_UID,
    GatewayConfig,
    VariantEndpoint,
    app_labels,
    inference_service_name,
)

__all__ = [
    "Gateway",
    "GatewayArgs",
    "gateway_config",
    "runtime_container",
    "GATEWAY_PORT",
    "GATEWAY_GRPC_PORT",
    "TOKENS_MOUNT",
    "CONFIG_CHECKSUM_ANNOTATION",
    "INGRESS_SELECTOR",
]

GATEWAY_PORT = 8080
GATEWAY_GRPC_PORT = 8081
"""The V2 GRPCInferenceService, on the pod and on the Service."""
CONFIG_MOUNT = "/etc/ml-serving/gateway"
TOKENS_MOUNT = "/etc/ml-serving/tokens"
MONITOR_TOKEN_MOUNT = "/etc/ml-serving/drift-token"
CONFIG_CHECKSUM_ANNOTATION = "ml-serving.io/config-checksum"
INGRESS_SELECTOR = {"istio": "ingressgateway"}
"""Pod labels of the Istio ingress gateway (the ``gateway`` chart released as ``istio-ingressgateway``)."""


def runtime_container(
    name: str,
    image: str,
    module: str,
    config: str,
    port: int,
    health: str,
    resources: ResourcesSpec,
    env: list[dict],
    mounts: list[dict],
) -> dict:
    """A container of the runtime image: ``python -m <module> --config <config>`` on ``port``."""
    ready = {"httpGet": {"path": health, "port": port}}
    quantities = {"cpu": resources.cpu, "memory": resources.memory}
    return {
        "name": name,
        "image": image,
        "command": ["python", "-m", module],
        "args": ["--config", config, "--host", "0.0.0.0", "--port", str(port)],
        "env": env,
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "readinessProbe": {**ready, "periodSeconds": 5},
        "livenessProbe": {**ready, "initialDelaySeconds": 15, "periodSeconds": 20},
        "resources": {"requests": quantities, "limits": quantities},
        "volumeMounts": mounts,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUNTIME_UID,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def gateway_config(spec: StackSpec, namespace: str, monitor_url: str | None) -> GatewayConfig:
    """The gateway's whole configuration: the specs and where each variant is served."""
    endpoints = {
        model: {
            v.variant_name: VariantEndpoint(
                url=predictor_url(inference_service_name(model, v), namespace),
                model_name=inference_service_name(model, v),
            )
            for v in rollout.variants
        }
        for model, rollout in spec.models.items()
    }
    settings = spec.platform.gateway
    return GatewayConfig(
        stack=spec.stack,
        models=dict(spec.models),
        endpoints=endpoints,
        monitor_url=monitor_url,
        auth_required=settings.auth_required,
        max_body_bytes=settings.max_body_bytes,
    )


def _istio(
    name: str, api_version: str, kind: str, meta: dict, opts: pulumi.ResourceOptions, spec: dict
) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(
        name,
        api_version=api_version,
        kind=kind,
        metadata={"name": GATEWAY_SERVICE_ACCOUNT, **meta},
        spec=spec,
        opts=opts,
    )


@dataclass(frozen=True, kw_only=True)
class GatewayArgs:
    spec: StackSpec
    namespace: pulumi.Input[str]
    provider: pulumi.ProviderResource | None = None
    tokens: pulumi.Input[str] | None = None
    """Comma-separated bearer tokens (the ``gatewayTokens`` Pulumi secret); required when auth is on."""
    monitor_url: pulumi.Input[str] | None = None
    """The drift monitor's base URL; no drift tap when unset."""
    monitor_token_secret: str | None = None
    """The Secret (key ``token``) holding the drift monitor's bearer token, which the tap sends."""
    depends_on: tuple[pulumi.Resource, ...] = ()


class Gateway(pulumi.ComponentResource):
    service_account: k8s.core.v1.ServiceAccount
    config_map: k8s.core.v1.ConfigMap
    tokens: k8s.core.v1.Secret | None
    deployment: k8s.apps.v1.Deployment
    service: k8s.core.v1.Service
    hpa: k8s.autoscaling.v2.HorizontalPodAutoscaler
    pdb: k8s.policy.v1.PodDisruptionBudget
    istio_gateway: k8s.apiextensions.CustomResource
    virtual_service: k8s.apiextensions.CustomResource
    url: pulumi.Output[str]
    """Public base URL: ``{url}/v2/models/<model>/infer``."""
    config_json: pulumi.Output[str]

    def __init__(self, name: str, args: GatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ml-serving:index:Gateway", name, None, opts)
        settings = args.spec.platform.gateway
        if settings.auth_required and args.tokens is None:
            raise ValueError(
                "gateway: authRequired is true but no tokens were given; set the gatewayTokens secret or authRequired: false"
            )
        child = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.depends_on))
        labels = app_labels(GATEWAY_SERVICE_ACCOUNT)
        meta = {"namespace": args.namespace, "labels": labels}

        # Built from plain strings (the spec's namespace, not the Namespace's output) so the
        # ConfigMap's data is known even in a first preview, when every Kubernetes output is
        # unknown: the policy pack judges the rollout spec from it before anything is created.
        self.config_json = pulumi.Output.from_input(args.monitor_url).apply(
            lambda url: gateway_config(args.spec, args.spec.platform.namespace, url).model_dump_json(by_alias=True)
        )
        checksum = self.config_json.apply(lambda text: hashlib.sha256(text.encode()).hexdigest())
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa", metadata={"name": GATEWAY_SERVICE_ACCOUNT, **meta}, opts=child
        )
        self.config_map = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata={"name": f"{GATEWAY_SERVICE_ACCOUNT}-config", **meta},
            data={"gateway.json": self.config_json},
            opts=child,
        )
        self.tokens = None
        env: list[dict] = []
        volumes = [{"name": "config", "configMap": {"name": f"{GATEWAY_SERVICE_ACCOUNT}-config"}}]
        mounts = [{"name": "config", "mountPath": CONFIG_MOUNT, "readOnly": True}]
        if args.tokens is not None:
            self.tokens = k8s.core.v1.Secret(
                f"{name}-tokens",
                metadata={"name": f"{GATEWAY_SERVICE_ACCOUNT}-tokens", **meta},
                string_data={"tokens": pulumi.Output.secret(args.tokens)},
                opts=child,
            )
            env.append({"name": "ML_SERVING_GATEWAY_TOKENS_FILE", "value": f"{TOKENS_MOUNT}/tokens"})
            volumes.append({"name": "tokens", "secret": {"secretName": f"{GATEWAY_SERVICE_ACCOUNT}-tokens"}})
            mounts.append({"name": "tokens", "mountPath": TOKENS_MOUNT, "readOnly": True})

        if args.monitor_token_secret is not None:
            env.append({"name": "ML_SERVING_GATEWAY_MONITOR_TOKEN_FILE", "value": f"{MONITOR_TOKEN_MOUNT}/token"})
            volumes.append({"name": "monitor-token", "secret": {"secretName": args.monitor_token_secret}})
            mounts.append({"name": "monitor-token", "mountPath": MONITOR_TOKEN_MOUNT, "readOnly": True})

        container = runtime_container(
            "gateway",
            args.spec.platform.images.runtime,
            "runtime.gateway",
            f"{CONFIG_MOUNT}/gateway.json",
            GATEWAY_PORT,
            "/v2/health/ready",
            settings.resources,
            env,
            mounts,
        )
        container["args"] += ["--grpc-port", str(GATEWAY_GRPC_PORT)]
        container["ports"].append({"name": "grpc", "containerPort": GATEWAY_GRPC_PORT, "protocol": "TCP"})
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"name": GATEWAY_SERVICE_ACCOUNT, **meta},
            # No replicas: the HPA below owns the count, and each update would reset it.
            spec={
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {
                        "labels": labels,
                        "annotations": {CONFIG_CHECKSUM_ANNOTATION: checksum, **scrape_annotations(GATEWAY_PORT)},
                    },
                    "spec": {
                        "serviceAccountName": GATEWAY_SERVICE_ACCOUNT,
                        "containers": [container],
                        "volumes": volumes,
                    },
                },
            },
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[self.service_account, self.config_map])
            ),
        )
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": GATEWAY_SERVICE_ACCOUNT, **meta},
            spec={
                "selector": labels,
                "ports": [
                    {"name": "http", "port": 80, "targetPort": GATEWAY_PORT, "protocol": "TCP"},
                    # Istio takes the protocol from the name prefix or appProtocol: gRPC is HTTP/2.
                    {
                        "name": "grpc",
                        "port": GATEWAY_GRPC_PORT,
                        "targetPort": GATEWAY_GRPC_PORT,
                        "protocol": "TCP",
                        "appProtocol": "grpc",
                    },
                ],
            },
            opts=child,
        )
        # Bearer tokens guard the models; the mesh lets callers reach only the two API ports.
        self.authorization_policy = _istio(
            f"{name}-authorization-policy",
            "security.istio.io/v1",
            "AuthorizationPolicy",
            meta,
            child,
            {
                "selector": {"matchLabels": labels},
                "action": "ALLOW",
                "rules": [{"to": [{"operation": {"ports": [str(GATEWAY_PORT), str(GATEWAY_GRPC_PORT)]}}]}],
            },
        )
        target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": GATEWAY_SERVICE_ACCOUNT}
        self.hpa = k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata={"name": GATEWAY_SERVICE_ACCOUNT, **meta},
            spec={
                "scaleTargetRef": target,
                "minReplicas": settings.replicas,
                "maxReplicas": max(settings.max_replicas, settings.replicas),
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                    }
                ],
            },
            opts=child,
        )
        # One replica cannot keep one available during a drain; allow it to move instead.
        budget = {"minAvailable": 1} if settings.replicas > 1 else {"maxUnavailable": 1}
        self.pdb = k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata={"name": GATEWAY_SERVICE_ACCOUNT, **meta},
            spec={"selector": {"matchLabels": labels}, **budget},
            opts=child,
        )
        self._expose(name, args, meta, child)
        scheme_host = "http://localhost" if settings.host == "*" else f"http://{settings.host}"
        self.url = pulumi.Output.from_input(scheme_host)
        self.register_outputs({"url": self.url, "configChecksum": checksum})

    def _expose(self, name: str, args: GatewayArgs, meta: dict, child: pulumi.ResourceOptions) -> None:
        host = args.spec.platform.gateway.host
        self.istio_gateway = _istio(
            f"{name}-istio-gateway",
            "networking.istio.io/v1",
            "Gateway",
            meta,
            child,
            {
                "selector": INGRESS_SELECTOR,
                # HTTP2 accepts HTTP/1.1 as well as h2c, which gRPC clients speak in plaintext.
                "servers": [{"port": {"number": 80, "name": "http2", "protocol": "HTTP2"}, "hosts": [host]}],
            },
        )
        # A plain string, so the route's destination is known in a preview and the pack can judge it.
        service_host = f"{GATEWAY_SERVICE_ACCOUNT}.{args.spec.platform.namespace}.svc.cluster.local"
        self.virtual_service = _istio(
            f"{name}-virtual-service",
            "networking.istio.io/v1",
            "VirtualService",
            meta,
            child,
            {
                "hosts": [host],
                "gateways": [GATEWAY_SERVICE_ACCOUNT],
                # gRPC arrives on the same ingress port and is told apart by its content type.
                "http": [
                    {
                        "name": "grpc",
                        "match": [{"headers": {"content-type": {"prefix": "application/grpc"}}}],
                        "route": [{"destination": {"host": service_host, "port": {"number": GATEWAY_GRPC_PORT}}}],
                    },
                    {"name": "rest", "route": [{"destination": {"host": service_host, "port": {"number": 80}}}]},
                ],
            },
        )
