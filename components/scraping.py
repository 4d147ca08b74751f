"""How Prometheus scrapes pods in the mesh: each pod names its metrics port and path in the
``prometheus.io/*`` annotations; Istio's injector (``meshConfig.enablePrometheusMerge``) moves
them to the agent's status port, where the agent serves them merged with Envoy's, in plaintext
and outside the sidecar's STRICT mTLS (``components.monitoring`` scrapes that port)."""

from __future__ import annotations

__all__ = ["scrape_annotations", "MERGED_METRICS_PORT", "MERGED_METRICS_PATH"]

MERGED_METRICS_PORT = 15020
"""The Istio agent's status port (istiod's ``global.proxy.statusPort``): merged metrics."""
MERGED_METRICS_PATH = "/stats/prometheus"


def scrape_annotations(port: int, path: str = "/metrics") -> dict[str, str]:
    """Pod annotations naming where the application itself serves its metrics."""
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": path}
