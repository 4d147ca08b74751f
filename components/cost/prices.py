"""Unit prices for the cost estimate: a dated snapshot in the repository, or the AWS Price List.

Each figure carries its source and date, and the estimate says which it used. ``PriceBook.get``
asks the live source first when there is one (``components.cost.pricelist``) and falls back to
the snapshot, recording a product the live source did not return.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from runtime.errors import MLServingError

__all__ = [
    "Price",
    "PriceBook",
    "PriceSource",
    "SNAPSHOT_PATH",
    "load_snapshot",
    "snapshot_keys",
    "standard_support_ends",
    "write_snapshot",
]

SNAPSHOT_PATH = Path(__file__).resolve().parent / "prices.json"


@dataclass(frozen=True)
class Price:
    key: str
    """What is priced: ``ec2/m6i.xlarge/hour``, ``vpc/nat-gateway-gb``, ..."""
    usd: float
    unit: str
    source: str
    as_of: str
    """Date of the figure (the snapshot's record date, or the Price List's publication date)."""
    origin: str = "snapshot"
    """``snapshot``, ``live`` (Price List API, this run) or ``cache`` (Price List API, cached)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "usd": self.usd,
            "unit": self.unit,
            "source": self.source,
            "asOf": self.as_of,
            "origin": self.origin,
        }


class PriceSource(Protocol):
    """Where live prices come from (the Price List API through boto3, or a test's stub)."""

    description: str

    def lookup(self, key: str) -> Price | None: ...


def load_snapshot(region: str, path: Path = SNAPSHOT_PATH) -> dict[str, Price]:
    document = json.loads(path.read_text())
    entries = document.get("regions", {}).get(region)
    if entries is None:
        raise MLServingError(
            f"the price snapshot {path.name} has no figures for region {region!r} (it has "
            f"{', '.join(sorted(document.get('regions', {})))}); refresh it with "
            f"`ml-serving cost --refresh-prices --region {region}` or run with AWS credentials"
        )
    return {key: Price(key, float(e["usd"]), e["unit"], e["source"], e["asOf"]) for key, e in entries.items()}


def standard_support_ends(version: str, path: Path = SNAPSHOT_PATH) -> tuple[str | None, str]:
    """(end of EKS standard support of a Kubernetes version, or None if not recorded; the source)."""
    calendar = json.loads(path.read_text()).get("eksStandardSupportEnds") or {}
    return (calendar.get("versions") or {}).get(version), calendar.get("source", "")


def snapshot_keys(path: Path = SNAPSHOT_PATH) -> list[str]:
    """Every key any region of the snapshot prices (what a refresh asks the Price List for)."""
    document = json.loads(path.read_text())
    return sorted({key for entries in document.get("regions", {}).values() for key in entries})


def write_snapshot(region: str, prices: dict[str, Price], path: Path = SNAPSHOT_PATH) -> None:
    document = json.loads(path.read_text())
    current = document.setdefault("regions", {}).setdefault(region, {})
    for key, price in prices.items():
        current[key] = {"usd": price.usd, "unit": price.unit, "source": price.source, "asOf": price.as_of}
    path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")


@dataclass
class PriceBook:
    region: str
    snapshot: dict[str, Price]
    live: PriceSource | None = None
    used: dict[str, Price] = field(default_factory=dict)
    missing_live: list[str] = field(default_factory=list)
    """Keys the live source returned no product for; the snapshot priced them."""

    @classmethod
    def from_snapshot(cls, region: str, path: Path = SNAPSHOT_PATH, live: PriceSource | None = None) -> PriceBook:
        try:
            snapshot = load_snapshot(region, path)
        except MLServingError:
            if live is None:
                raise
            snapshot = {}
        return cls(region, snapshot, live)

    def get(self, key: str) -> Price:
        if key in self.used:
            return self.used[key]
        price = self.live.lookup(key) if self.live is not None else None
        if price is None:
            if self.live is not None:
                self.missing_live.append(key)
            price = self.snapshot.get(key)
        if price is None:
            raise MLServingError(
                f"no price for {key} in {self.region}: not in the snapshot {SNAPSHOT_PATH.name}"
                + (" and not returned by the Price List API" if self.live is not None else "")
                + "; add it there (with its source and date) or refresh the snapshot"
            )
        self.used[key] = price
        return price

    def summary(self) -> dict[str, Any]:
        """Which prices the estimate used, and from when."""
        origins = sorted({p.origin for p in self.used.values()})
        dates = sorted({p.as_of for p in self.used.values()})
        return {
            "region": self.region,
            "origins": origins,
            "live": self.live.description if self.live is not None else None,
            "snapshot": "components/cost/prices.json",
            "asOf": {"oldest": dates[0], "newest": dates[-1]} if dates else None,
            "missingLive": sorted(set(self.missing_live)),
            "liveErrors": list(getattr(self.live, "errors", [])),
            "prices": [self.used[k].to_json() for k in sorted(self.used)],
        }
