"""Live unit prices from the AWS Price List API (boto3 ``pricing`` client, ``GetProducts``), cached.

Each price key of the estimate maps to a query: a service code, ``TERM_MATCH`` filters and, where
one product family holds several charges (a NAT gateway's hours and its bytes), the end of the
product's ``usagetype`` (its start is the region's billing prefix, e.g. ``USW2-``). A product's
on-demand price is the first positive tier of its price dimensions. A key the Price List returns
no product for is None here, and the estimate takes the snapshot's figure and says so.
"""

from __future__ import annotations

import datetime
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.cost.prices import SNAPSHOT_PATH, Price, load_snapshot, snapshot_keys, write_snapshot
from runtime.errors import MLServingError

__all__ = [
    "Query",
    "query_for",
    "parse_products",
    "PriceList",
    "PriceCache",
    "have_credentials",
    "refresh_snapshot",
    "CACHE_TTL_DAYS",
]

CACHE_TTL_DAYS = 7
PRICING_REGION = "us-east-1"
"""The Price List API answers from us-east-1 (also eu-central-1, ap-south-1) for every region."""
_RDS_ENGINES = {"postgres": "PostgreSQL", "mysql": "MySQL", "mariadb": "MariaDB"}
_RDS_VOLUMES = {"gp3": "General Purpose-GP3", "gp2": "General Purpose"}
_DEPLOYMENT = {"single-az": "Single-AZ", "multi-az": "Multi-AZ"}
_LB_FAMILIES = {
    "network": "Load Balancer-Network",
    "application": "Load Balancer-Application",
    "classic": "Load Balancer",
}


@dataclass(frozen=True)
class Query:
    service: str
    filters: tuple[tuple[str, str], ...]
    usagetype_suffix: str | None = None
    multiplier: float = 1.0
    """Price per unit of the key over price per unit of the Price List (1,000 for per-1k requests)."""

    def api_filters(self) -> list[dict[str, str]]:
        return [{"Type": "TERM_MATCH", "Field": field, "Value": value} for field, value in self.filters]


def query_for(key: str, region: str) -> Query | None:
    """The Price List query for a price key, or None for a key it does not know."""
    parts = key.split("/")
    where = (("regionCode", region),)
    match parts:
        case ["ec2", instance, "hour"]:
            return Query(
                "AmazonEC2",
                (
                    *where,
                    ("instanceType", instance),
                    ("operatingSystem", "Linux"),
                    ("tenancy", "Shared"),
                    ("preInstalledSw", "NA"),
                    ("capacitystatus", "Used"),
                    ("licenseModel", "No License required"),
                    ("marketoption", "OnDemand"),
                ),
            )
        case ["eks", "cluster-hour"]:
            return Query("AmazonEKS", where, "AmazonEKS-Hours:perCluster")
        case ["eks", "cluster-hour-extended"]:
            return Query("AmazonEKS", where, "AmazonEKS-Hours:extendedSupport")
        case ["ebs", volume, "gb-month"]:
            return Query("AmazonEC2", (*where, ("productFamily", "Storage"), ("volumeApiName", volume)))
        case ["vpc", "nat-gateway-hour"]:
            return Query("AmazonEC2", (*where, ("productFamily", "NAT Gateway")), "NatGateway-Hours")
        case ["vpc", "nat-gateway-gb"]:
            return Query("AmazonEC2", (*where, ("productFamily", "NAT Gateway")), "NatGateway-Bytes")
        case ["vpc", "public-ipv4-hour"]:
            return Query("AmazonVPC", where, "PublicIPv4:InUseAddress")
        case ["elb", charge] if charge.split("-", 1)[0] in _LB_FAMILIES:
            kind, rest = charge.split("-", 1)
            suffix = "LCUUsage" if rest == "lcu-hour" else "LoadBalancerUsage"
            return Query("AWSELB", (*where, ("productFamily", _LB_FAMILIES[kind])), suffix)
        case ["rds", "backup", "gb-month"]:
            return Query("AmazonRDS", (*where, ("productFamily", "Storage Snapshot")), "ChargedBackupUsage")
        case ["rds", storage, az, "gb-month"] if storage.startswith("storage-") and storage[8:] in _RDS_VOLUMES:
            return Query(
                "AmazonRDS",
                (
                    *where,
                    ("productFamily", "Database Storage"),
                    ("volumeType", _RDS_VOLUMES[storage[8:]]),
                    ("deploymentOption", _DEPLOYMENT[az]),
                    ("databaseEngine", "PostgreSQL"),
                ),
            )
        case ["rds", engine, klass, az, "hour"] if engine in _RDS_ENGINES:
            return Query(
                "AmazonRDS",
                (
                    *where,
                    ("instanceType", klass),
                    ("databaseEngine", _RDS_ENGINES[engine]),
                    ("deploymentOption", _DEPLOYMENT[az]),
                ),
            )
        case ["s3", "standard", "gb-month"]:
            return Query(
                "AmazonS3", (*where, ("productFamily", "Storage"), ("volumeType", "Standard")), "TimedStorage-ByteHrs"
            )
        case ["s3", "put-1k"]:
            return Query("AmazonS3", (*where, ("productFamily", "API Request")), "Requests-Tier1", 1000)
        case ["s3", "get-1k"]:
            return Query("AmazonS3", (*where, ("productFamily", "API Request")), "Requests-Tier2", 1000)
        case ["transfer", "internet-out-gb"]:
            return Query("AWSDataTransfer", (("fromRegionCode", region), ("transferType", "AWS Outbound")))
        case ["cloudwatch", "logs-ingest-gb"]:
            return Query("AmazonCloudWatch", (*where, ("productFamily", "Data Payload")), "DataProcessing-Bytes")
    return None


def _first_positive(dimensions: dict[str, Any]) -> tuple[float, str] | None:
    tiers = sorted(dimensions.values(), key=lambda d: float(d.get("beginRange") or 0))
    for tier in tiers:
        usd = float((tier.get("pricePerUnit") or {}).get("USD") or 0)
        if usd > 0:
            return usd, str(tier.get("unit", ""))
    return None


def parse_products(price_list: list[str], query: Query) -> tuple[float, str, str, str] | None:
    """(USD per unit, unit, effective date, sku) of the first matching product, by sku order."""
    found = []
    for text in price_list:
        product = json.loads(text)
        attributes = (product.get("product") or {}).get("attributes") or {}
        if query.usagetype_suffix and not str(attributes.get("usagetype", "")).endswith(query.usagetype_suffix):
            continue
        for term in ((product.get("terms") or {}).get("OnDemand") or {}).values():
            price = _first_positive(term.get("priceDimensions") or {})
            if price is not None:
                sku = (product.get("product") or {}).get("sku", "")
                found.append(
                    (
                        sku,
                        price[0] * query.multiplier,
                        price[1],
                        str(term.get("effectiveDate", ""))[:10] or str(product.get("publicationDate", ""))[:10],
                    )
                )
    if not found:
        return None
    sku, usd, unit, as_of = sorted(found)[0]
    return usd, unit, as_of, sku


class PriceCache:
    """Prices fetched within ``CACHE_TTL_DAYS``, in one JSON file per user."""

    def __init__(self, path: Path, today: datetime.date | None = None) -> None:
        self.path = path
        self.today = today or datetime.date.today()

    @classmethod
    def default(cls) -> PriceCache:
        configured = os.environ.get("ML_SERVING_PRICE_CACHE")
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return cls(Path(configured) if configured else base / "ml-serving" / "prices.json")

    def _read(self) -> dict[str, Any]:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def get(self, region: str, key: str) -> Price | None:
        entry = self._read().get(region, {}).get(key)
        if not entry:
            return None
        fetched = datetime.date.fromisoformat(entry["fetchedAt"])
        if (self.today - fetched).days > CACHE_TTL_DAYS:
            return None
        return Price(key, entry["usd"], entry["unit"], entry["source"], entry["asOf"], "cache")

    def put(self, region: str, price: Price) -> None:
        document = self._read()
        document.setdefault(region, {})[price.key] = {
            "usd": price.usd,
            "unit": price.unit,
            "source": price.source,
            "asOf": price.as_of,
            "fetchedAt": self.today.isoformat(),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(document, indent=1, sort_keys=True))
        tmp.replace(self.path)


class PriceList:
    """A ``PriceSource`` over a boto3 ``pricing`` client."""

    description = "AWS Price List API (pricing GetProducts)"

    def __init__(self, client: Any, region: str, cache: PriceCache | None = None) -> None:
        self.client = client
        self.region = region
        self.cache = cache
        self.errors: list[str] = []
        """Calls that failed (no permission, throttled, no network); their keys come from the snapshot."""

    @classmethod
    def from_environment(cls, region: str) -> PriceList:
        import boto3

        return cls(boto3.client("pricing", region_name=PRICING_REGION), region, PriceCache.default())

    def fetch(self, query: Query) -> list[str]:
        products: list[str] = []
        request: dict[str, Any] = {
            "ServiceCode": query.service,
            "Filters": query.api_filters(),
            "FormatVersion": "aws_v1",
            "MaxResults": 100,
        }
        while True:
            response = self.client.get_products(**request)
            products.extend(response.get("PriceList") or [])
            token = response.get("NextToken")
            if not token:
                return products
            request["NextToken"] = token

    def lookup(self, key: str) -> Price | None:
        if self.cache is not None and (cached := self.cache.get(self.region, key)) is not None:
            return cached
        query = query_for(key, self.region)
        if query is None:
            return None
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            parsed = parse_products(self.fetch(query), query)
        except (BotoCoreError, ClientError) as exc:
            self.errors.append(f"{key}: {exc}")
            return None
        if parsed is None:
            return None
        usd, unit, as_of, sku = parsed
        price = Price(key, usd, unit, f"AWS Price List API: {query.service} sku {sku}", as_of, "live")
        if self.cache is not None:
            self.cache.put(self.region, price)
        return price


def have_credentials() -> bool:
    """Whether boto3 finds AWS credentials (environment, profile, SSO, role) for the live path."""
    import boto3

    return boto3.Session().get_credentials() is not None


def refresh_snapshot(region: str, source: PriceList | None = None, path: Path = SNAPSHOT_PATH) -> tuple[int, list[str]]:
    """Rewrite the snapshot's figures for ``region`` from the Price List; returns (refreshed, missing)."""
    live = source or PriceList.from_environment(region)
    live.cache = None  # a refresh asks the Price List itself
    known = set(snapshot_keys(path))
    try:
        known |= set(load_snapshot(region, path))
    except MLServingError:  # a region new to the snapshot starts from the keys of the others
        pass
    fresh, missing = {}, []
    for key in sorted(known):
        price = live.lookup(key)
        if price is None:
            missing.append(key)
        else:
            fresh[key] = price
    write_snapshot(region, fresh, path)
    return len(fresh), missing
