"""Pulumi mocks for the offline render and the component tests.

The cloud (AWS, the Kubernetes API) is the one thing faked. Every mocked id and output is a
pure function of the resource's type, name and inputs, so a render is deterministic. Remote
components (pulumi-eks, awsx) are single resources under mocks: their outputs are supplied here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor

__all__ = ["RenderMocks", "RecordingMonitor", "Registration", "FAKE_ACCOUNT", "FAKE_REGION"]

FAKE_ACCOUNT = "123456789012"
FAKE_REGION = "us-west-2"


@dataclass(frozen=True)
class Registration:
    """One resource as the program registered it."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    inputs: dict[str, Any] = field(default_factory=dict)
    dependencies: tuple[str, ...] = ()
    """URNs it waits for (``depends_on`` and the resources its inputs come from)."""
    property_dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Per input, the URNs its value comes from (what the engine hands stack policies)."""
    wire: Any = None
    """The inputs as the SDK sent them (a protobuf ``Struct``, unknowns and secrets as on the wire)."""
    provider: str | None = None
    """URN of its explicit provider (a resource also waits for its provider)."""


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}::{FAKE_ACCOUNT}:{resource}"


class RenderMocks(pulumi.runtime.Mocks):
    """Outputs for resources and invokes that a real provider would compute."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        outputs = dict(args.inputs)
        name = args.name
        outputs.setdefault("arn", _arn(args.typ.split(":")[1].split("/")[0], name))
        outputs.update(_OUTPUTS.get(args.typ, lambda n, i: {})(name, args.inputs))
        return f"{name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        handler = _INVOKES.get(args.token)
        return (handler(args.args) if handler else {}), []


def _eks_cluster(name: str, inputs: dict) -> dict:
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": f"https://{name}.eks.example.invalid"}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "users": [{"name": name, "user": {}}],
    }
    return {
        "kubeconfig": kubeconfig,
        "kubeconfigJson": json.dumps(kubeconfig, sort_keys=True),
        # eksCluster, core and the security group objects are resource references in the SDK;
        # a plain dict fails its type check, so they are left out (the program reads the ids).
        "clusterSecurityGroupId": f"sg-{name}",
        "nodeSecurityGroupId": f"sg-{name}-nodes",
        "oidcProviderArn": _arn("iam", f"oidc-provider/oidc.eks.{FAKE_REGION}.amazonaws.com/id/{name.upper()}"),
        "oidcProviderUrl": f"oidc.eks.{FAKE_REGION}.amazonaws.com/id/{name.upper()}",
        "oidcIssuer": f"oidc.eks.{FAKE_REGION}.amazonaws.com/id/{name.upper()}",
        "instanceRoles": [],
    }


def _vpc(name: str, inputs: dict) -> dict:
    zones = int(inputs.get("numberOfAvailabilityZones") or 3)
    return {
        "vpcId": f"vpc-{name}",
        "privateSubnetIds": [f"subnet-{name}-private-{i}" for i in range(zones)],
        "publicSubnetIds": [f"subnet-{name}-public-{i}" for i in range(zones)],
        "isolatedSubnetIds": [],
        # Outputs of resource type that would otherwise echo the same-named input (a config dict).
        "natGateways": [],
        "eips": [],
        "subnets": [],
        "routeTables": [],
        "routes": [],
        "vpcEndpoints": [],
    }


_OUTPUTS: dict[str, Callable[[str, dict], dict]] = {
    "eks:index:Cluster": _eks_cluster,
    "awsx:ec2:Vpc": _vpc,
    "aws:s3/bucket:Bucket": lambda n, i: {
        "bucket": i.get("bucket") or n,
        "id": i.get("bucket") or n,
        "arn": f"arn:aws:s3:::{i.get('bucket') or n}",
    },
    "aws:s3/bucketV2:BucketV2": lambda n, i: {"bucket": i.get("bucket") or n, "id": i.get("bucket") or n},
    "aws:iam/role:Role": lambda n, i: {"arn": _arn("iam", f"role/{n}"), "name": n},
    "aws:iam/policy:Policy": lambda n, i: {"arn": _arn("iam", f"policy/{n}")},
    "aws:rds/instance:Instance": lambda n, i: {
        "address": f"{n}.rds.example.invalid",
        "endpoint": f"{n}.rds.example.invalid:5432",
        "port": 5432,
    },
    "aws:ec2/securityGroup:SecurityGroup": lambda n, i: {"id": f"sg-{n}"},
    "aws:rds/subnetGroup:SubnetGroup": lambda n, i: {"name": i.get("name") or n},
    "random:index/randomPassword:RandomPassword": lambda n, i: {"result": "[secret]"},
}

_INVOKES: dict[str, Callable[[dict], dict]] = {
    "aws:index/getCallerIdentity:getCallerIdentity": lambda a: {
        "accountId": FAKE_ACCOUNT,
        "arn": _arn("iam", "user/render"),
        "userId": "render",
    },
    "aws:index/getRegion:getRegion": lambda a: {"name": FAKE_REGION, "region": FAKE_REGION, "id": FAKE_REGION},
    "aws:index/getAvailabilityZones:getAvailabilityZones": lambda a: {
        "names": [f"{FAKE_REGION}{z}" for z in "abc"],
        "zoneIds": ["usw2-az1", "usw2-az2", "usw2-az3"],
    },
    "aws:ec2/getSubnet:getSubnet": lambda a: {"id": a.get("id"), "vpcId": f"vpc-of-{a.get('id')}"},
    "aws:eks/getCluster:getCluster": lambda a: {
        "name": a.get("name"),
        "vpcConfig": {"clusterSecurityGroupId": f"sg-{a.get('name')}-eks-managed"},
    },
    "aws:eks/getAddonVersion:getAddonVersion": lambda a: {
        "addonName": a.get("addonName"),
        "kubernetesVersion": a.get("kubernetesVersion"),
        "version": f"v0.0.0-default-for-{a.get('kubernetesVersion')}",
    },
    "aws:iam/getPolicyDocument:getPolicyDocument": lambda a: {"json": json.dumps(a, sort_keys=True, default=str)},
}


class RecordingMonitor(MockMonitor):
    """A mock monitor that also records each registration's parent and inputs."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request):  # noqa: N802 - the gRPC method's name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            from pulumi.runtime import rpc

            self.registrations.append(
                Registration(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent or None,
                    custom=bool(request.custom),
                    inputs=rpc.deserialize_properties(request.object),
                    dependencies=tuple(sorted(set(request.dependencies))),
                    property_dependencies={k: tuple(v.urns) for k, v in request.propertyDependencies.items()},
                    wire=request.object,
                    # A provider reference is "<urn>::<id>".
                    provider=request.provider.rsplit("::", 1)[0] if request.provider else None,
                )
            )
        return response
