"""Items that do not follow the node groups: control plane, NAT, load balancers, RDS, S3, transfer, storage.

Each reads the render's resources by type (never by name) and the stack's declared usage
(``platform.cost.usage``); what it assumes is returned as a note the estimate prints.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from components.cost.charts import chart_claims
from components.cost.items import HOURS_PER_MONTH, Item, flat
from components.cost.prices import PriceBook, standard_support_ends
from components.cost.workloads import memory_mib, of_type
from runtime.spec import CostUsageSpec

__all__ = ["platform_items", "Findings"]

_LB_TYPES = {"external": "network", "nlb": "network", "nlb-ip": "network"}
_DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"


class Findings:
    """Notes (assumptions made) and warnings (something in the render looks wrong) of one estimate."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.warnings: list[str] = []


def _zones(document: Mapping[str, Any]) -> int:
    for vpc in of_type(document, "awsx:ec2:Vpc"):
        return int(vpc["inputs"].get("numberOfAvailabilityZones") or 3)
    for cluster in of_type(document, "eks:index:Cluster"):
        return max(len(cluster["inputs"].get("publicSubnetIds") or []), 1)
    return 1


def _control_plane(
    document, usage: CostUsageSpec, book: PriceBook, out: list[Item], findings: Findings, today: datetime.date
) -> None:
    for cluster in of_type(document, "eks:index:Cluster"):
        name = cluster["inputs"].get("name") or cluster["name"]
        version = str(cluster["inputs"].get("version", ""))
        ends, source = standard_support_ends(version)
        if ends is not None and today > datetime.date.fromisoformat(ends):
            key, support = "eks/cluster-hour-extended", f"extended support (standard support ended {ends})"
            findings.warnings.append(
                f"{name}: Kubernetes {version} left EKS standard support on {ends} ({source}); the control plane bills the "
                "extended-support rate until it is upgraded (raise platform.cluster.kubernetesVersion)"
            )
        else:
            key, support = "eks/cluster-hour", "standard support"
            if ends is None:
                findings.notes.append(
                    f"{name}: the end of standard support of Kubernetes {version} is not recorded; priced at the standard rate"
                )
        out.append(
            Item(
                f"eks/{name}",
                "control plane",
                cluster["urn"],
                flat(HOURS_PER_MONTH),
                "cluster-hour",
                book.get(key),
                detail=flat(f"EKS {version} {support}"),
            )
        )
        if cluster["inputs"].get("enabledClusterLogTypes"):
            out.append(
                Item(
                    f"logs/{name}",
                    "monitoring",
                    "platform.cost.usage.controlPlaneLogsGb",
                    flat(usage.control_plane_logs_gb),
                    "GB",
                    book.get("cloudwatch/logs-ingest-gb"),
                    detail=flat(f"control-plane logs {', '.join(cluster['inputs']['enabledClusterLogTypes'])}"),
                )
            )


def _nat(document, usage: CostUsageSpec, book: PriceBook, out: list[Item], findings: Findings) -> None:
    for vpc in of_type(document, "awsx:ec2:Vpc"):
        strategy = (vpc["inputs"].get("natGateways") or {}).get("strategy", "OnePerAz")
        zones = int(vpc["inputs"].get("numberOfAvailabilityZones") or 3)
        count = {"OnePerAz": zones, "Single": 1, "None": 0}.get(strategy, zones)
        if count == 0:
            continue
        hours = flat(count * HOURS_PER_MONTH)
        what = flat(f"{count} NAT gateway(s) ({strategy}, {zones} AZs)")
        out.append(
            Item(
                f"nat/{vpc['name']}",
                "network",
                vpc["urn"],
                hours,
                "gateway-hour",
                book.get("vpc/nat-gateway-hour"),
                detail=what,
            )
        )
        out.append(
            Item(
                f"nat/{vpc['name']}/ipv4",
                "network",
                vpc["urn"],
                hours,
                "address-hour",
                book.get("vpc/public-ipv4-hour"),
                detail=flat(f"{count} Elastic IP(s), one per NAT gateway"),
            )
        )
        out.append(
            Item(
                f"nat/{vpc['name']}/data",
                "network",
                "platform.cost.usage.natProcessedGb",
                flat(usage.nat_processed_gb),
                "GB",
                book.get("vpc/nat-gateway-gb"),
                detail=flat("data processed by the NAT gateways"),
            )
        )
    if not of_type(document, "awsx:ec2:Vpc") and of_type(document, "eks:index:Cluster"):
        findings.notes.append(
            "the cluster uses existing subnets: their NAT gateways are not this stack's and are not priced"
        )


def _load_balancers(document) -> Iterable[tuple[str, str, str, bool]]:
    """(name, urn, kind, internet-facing) of each load balancer the render asks for."""
    for r in of_type(document, "kubernetes:core/v1:Service"):
        if (r["inputs"].get("spec") or {}).get("type") == "LoadBalancer":
            annotations = (r["inputs"].get("metadata") or {}).get("annotations") or {}
            yield r["name"], r["urn"], _lb_kind(annotations), _public(annotations)
    for r in of_type(document, "kubernetes:helm.sh/v3:Release"):
        service = ((r["inputs"].get("values") or {}).get("service")) or {}
        if service.get("type") == "LoadBalancer":
            annotations = service.get("annotations") or {}
            yield r["name"], r["urn"], _lb_kind(annotations), _public(annotations)
    for r in of_type(document, "kubernetes:networking.k8s.io/v1:Ingress"):
        spec = r["inputs"].get("spec") or {}
        annotations = (r["inputs"].get("metadata") or {}).get("annotations") or {}
        if spec.get("ingressClassName") == "alb":
            yield (
                r["name"],
                r["urn"],
                "application",
                annotations.get("alb.ingress.kubernetes.io/scheme") == "internet-facing",
            )


def _lb_kind(annotations: Mapping[str, str]) -> str:
    return _LB_TYPES.get(annotations.get("service.beta.kubernetes.io/aws-load-balancer-type", ""), "classic")


def _public(annotations: Mapping[str, str]) -> bool:
    return annotations.get("service.beta.kubernetes.io/aws-load-balancer-scheme") == "internet-facing" or (
        "service.beta.kubernetes.io/aws-load-balancer-internal" not in annotations
        and "service.beta.kubernetes.io/aws-load-balancer-scheme" not in annotations
    )


def _lbs(document, usage: CostUsageSpec, book: PriceBook, out: list[Item], findings: Findings) -> None:
    zones = _zones(document)
    for name, urn, kind, public in _load_balancers(document):
        out.append(
            Item(
                f"lb/{name}",
                "network",
                urn,
                flat(HOURS_PER_MONTH),
                "lb-hour",
                book.get(f"elb/{kind}-hour"),
                detail=flat(f"{kind} load balancer"),
            )
        )
        if kind != "classic":
            out.append(
                Item(
                    f"lb/{name}/lcu",
                    "network",
                    "platform.cost.usage.loadBalancerLcu",
                    flat(usage.load_balancer_lcu * HOURS_PER_MONTH),
                    "LCU-hour",
                    book.get(f"elb/{kind}-lcu-hour"),
                    detail=flat(f"{usage.load_balancer_lcu:g} LCU on average"),
                )
            )
        if public and kind != "classic":
            out.append(
                Item(
                    f"lb/{name}/ipv4",
                    "network",
                    urn,
                    flat(zones * HOURS_PER_MONTH),
                    "address-hour",
                    book.get("vpc/public-ipv4-hour"),
                    detail=flat(f"internet-facing: one public IPv4 per AZ ({zones})"),
                )
            )
        if kind == "classic":
            findings.notes.append(
                f"{name}: a LoadBalancer Service without aws-load-balancer-type is priced as a Classic Load Balancer"
            )


def _rds(document, usage: CostUsageSpec, book: PriceBook, out: list[Item], findings: Findings) -> None:
    for r in of_type(document, "aws:rds/instance:Instance"):
        inputs = r["inputs"]
        az = "multi-az" if inputs.get("multiAz") else "single-az"
        engine, klass = inputs.get("engine", "postgres"), inputs.get("instanceClass")
        if not klass:
            findings.notes.append(f"{r['name']}: no instanceClass in its inputs; not priced")
            continue
        storage_gb = float(inputs.get("allocatedStorage") or 20)
        storage_type = inputs.get("storageType") or "gp2"
        out.append(
            Item(
                f"rds/{r['name']}",
                "database",
                r["urn"],
                flat(HOURS_PER_MONTH),
                "instance-hour",
                book.get(f"rds/{engine}/{klass}/{az}/hour"),
                detail=flat(f"{klass} {engine} {az}"),
            )
        )
        out.append(
            Item(
                f"rds/{r['name']}/storage",
                "database",
                r["urn"],
                flat(storage_gb),
                "GB-month",
                book.get(f"rds/storage-{storage_type}/{az}/gb-month"),
                detail=flat(f"{storage_gb:g} GB {storage_type} {az}"),
            )
        )
        retention = int(inputs.get("backupRetentionPeriod") or 0)
        if usage.rds_backup_gb is not None:
            backup, how = usage.rds_backup_gb, "declared (platform.cost.usage.rdsBackupGb)"
        else:
            backup = round(retention * 0.01 * storage_gb, 2)
            how = f"{retention} retained days x 1% of {storage_gb:g} GB changed per day"
            findings.notes.append(
                f"{r['name']}: billed backup storage {backup:g} GB = {how} (backups up to the allocated storage are free)"
            )
        out.append(
            Item(
                f"rds/{r['name']}/backup",
                "database",
                r["urn"],
                flat(backup),
                "GB-month",
                book.get("rds/backup/gb-month"),
                detail=flat(how),
            )
        )


def _s3(document, usage: CostUsageSpec, book: PriceBook, out: list[Item], findings: Findings) -> None:
    buckets = of_type(document, "aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
    for index, r in enumerate(buckets):
        share = 1.0 if index == 0 else 0.0
        base = f"s3/{r['name']}"
        out.append(
            Item(
                base,
                "storage",
                r["urn"],
                flat(usage.artifact_storage_gb * share),
                "GB-month",
                book.get("s3/standard/gb-month"),
                detail=flat("S3 Standard (platform.cost.usage.artifactStorageGb)"),
            )
        )
        out.append(
            Item(
                f"{base}/put",
                "storage",
                r["urn"],
                flat(usage.artifact_put_requests * share),
                "request",
                book.get("s3/put-1k"),
                factor=1 / 1000,
                detail=flat("PUT/COPY/POST/LIST (artifactPutRequests)"),
            )
        )
        out.append(
            Item(
                f"{base}/get",
                "storage",
                r["urn"],
                flat(usage.artifact_get_requests * share),
                "request",
                book.get("s3/get-1k"),
                factor=1 / 1000,
                detail=flat("GET and reads (artifactGetRequests)"),
            )
        )
    if len(buckets) > 1:
        findings.notes.append(
            f"the artifact usage is charged to {buckets[0]['name']}; the other buckets are priced at no usage"
        )


def _transfer(document, usage: CostUsageSpec, book: PriceBook, out: list[Item]) -> None:
    if of_type(document, "eks:index:Cluster"):
        out.append(
            Item(
                "transfer/internet-out",
                "network",
                "platform.cost.usage.internetEgressGb",
                flat(usage.internet_egress_gb),
                "GB",
                book.get("transfer/internet-out-gb"),
                detail=flat("data out to the internet"),
            )
        )


def _volume_type(document, claim: Mapping[str, Any], findings: Findings) -> str:
    wanted = (claim.get("spec") or {}).get("storageClassName")
    for sc in of_type(document, "kubernetes:storage.k8s.io/v1:StorageClass"):
        meta = sc["inputs"].get("metadata") or {}
        default = (meta.get("annotations") or {}).get(_DEFAULT_CLASS) == "true"
        if meta.get("name") == wanted or (wanted is None and default):
            return str((sc["inputs"].get("parameters") or {}).get("type", "gp3"))
    name = (claim.get("metadata") or {}).get("name")
    findings.notes.append(
        f"{name}: no StorageClass in the render names its volume type; priced as EBS gp2 (EKS's built-in class)"
    )
    return "gp2"


def _volumes(document, book: PriceBook, out: list[Item], findings: Findings) -> None:
    claims = [(r["name"], r["urn"], r["inputs"]) for r in of_type(document, "kubernetes:core/v1:PersistentVolumeClaim")]
    for name, urn, claim in [*claims, *chart_claims(document)]:
        size_gb = (
            memory_mib(((claim.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage", "0"))
            / 1024
        )
        kind = _volume_type(document, claim, findings)
        out.append(
            Item(
                f"volume/{name}",
                "monitoring",
                urn,
                flat(size_gb),
                "GB-month",
                book.get(f"ebs/{kind}/gb-month"),
                detail=flat(f"PersistentVolumeClaim {(claim.get('metadata') or {}).get('name')} on EBS {kind}"),
            )
        )


def platform_items(
    document: Mapping[str, Any],
    usage: CostUsageSpec,
    book: PriceBook,
    findings: Findings,
    today: datetime.date | None = None,
) -> list[Item]:
    out: list[Item] = []
    _control_plane(document, usage, book, out, findings, today or datetime.date.today())
    _nat(document, usage, book, out, findings)
    _lbs(document, usage, book, out, findings)
    _rds(document, usage, book, out, findings)
    _s3(document, usage, book, out, findings)
    _transfer(document, usage, book, out)
    _volumes(document, book, out, findings)
    return out
