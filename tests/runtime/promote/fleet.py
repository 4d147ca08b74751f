"""Gateway replicas' metrics on loopback, scraped by a real Prometheus.

Each replica serves the gateway's own metric families (``GatewayMetrics``) over HTTP with
prometheus_client's exporter; ``restart`` gives every replica fresh counters, as a new step's
spec rolls the gateway pods. Traffic is recorded the way the gateway records it: an answer per
served call, a failed upstream call per error (that request then retried on the primary), and
the request's latency under the variant that answered.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import numpy as np
from prometheus_client import start_http_server

from runtime.gateway.metrics import GatewayMetrics
from runtime.local.prometheus import prometheus_part, write_prometheus_config
from runtime.local.supervisor import Supervisor
from tests.ports import free_port
from tests.runtime.local.stops import wait

__all__ = ["Replica", "Fleet", "running_prometheus", "free_port"]


class Replica:
    def __init__(self) -> None:
        self.metrics = GatewayMetrics()
        self.server, self.thread = start_http_server(0, addr="127.0.0.1", registry=self)
        self.port = self.server.server_port

    def collect(self):  # noqa: ANN201 - the exporter's Collector protocol
        return self.metrics.registry.collect()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Fleet:
    def __init__(self, model: str, primary: str, canary: str, replicas: int = 2, seed: int = 0) -> None:
        self.model, self.primary, self.canary = model, primary, canary
        self.replicas = [Replica() for _ in range(replicas)]
        self.rng = np.random.default_rng(seed)
        self.answers = 0

    @property
    def targets(self) -> list[str]:
        return [f"127.0.0.1:{r.port}" for r in self.replicas]

    def restart(self) -> None:
        for replica in self.replicas:
            replica.metrics = GatewayMetrics()
        self.answers = 0

    def serve(
        self, calls: int, canary_weight: float, primary_error: float, canary_error: float, canary_slowdown: float = 1.0
    ) -> None:
        share = calls // len(self.replicas)
        for replica in self.replicas:
            m = replica.metrics
            canary_calls = round(share * canary_weight / 100)  # the split is exact: errors and latency carry the noise
            for variant, n, rate, slow in (
                (self.canary, canary_calls, canary_error, canary_slowdown),
                (self.primary, share - canary_calls, primary_error, 1.0),
            ):
                failed = int(self.rng.binomial(n, rate))
                if failed:
                    m.upstream_failures.labels(self.model, variant, "status").inc(failed)
                    m.requests.labels(self.model, self.primary, "ok").inc(failed)  # retried on the primary
                m.requests.labels(self.model, variant, "ok").inc(n - failed)
                histogram = m.latency.labels(self.model, variant)
                for seconds in self.rng.lognormal(np.log(0.02 * slow), 0.4, n - failed):
                    histogram.observe(seconds)
            self.answers += share

    def close(self) -> None:
        for replica in self.replicas:
            replica.close()


class running_prometheus:
    """A real Prometheus (Debian's binary) under the local platform's supervisor."""

    def __init__(self, folder: Path, targets: dict[str, list[str]]) -> None:
        self.folder = folder
        self.port = free_port()
        config = write_prometheus_config(folder / "prometheus.yml", targets, scrape_interval_s=0.5)
        (folder / "data").mkdir(parents=True, exist_ok=True)
        binary = shutil.which("prometheus")
        if binary is None:
            raise RuntimeError("Debian's prometheus is not on PATH (scripts/ensure-tools.sh installs it)")
        self.part = prometheus_part(binary, config, folder / "data", "127.0.0.1", self.port)
        self.supervisor = Supervisor(folder / "logs", say=lambda line: None, ready_timeout_s=60)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> running_prometheus:
        self.supervisor.start([self.part])
        return self

    def __exit__(self, *exc: object) -> None:
        self.supervisor.stop()

    def value(self, promql: str) -> float | None:
        body = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5).json()
        result = body["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def wait_scraped(self, model: str, answers: int) -> None:
        """Until Prometheus holds ``answers`` answers of ``model`` summed over the replicas."""
        query = f'sum(ml_serving_gateway_requests_total{{model="{model}"}}) or vector(0)'
        wait(lambda: self.value(query) == answers, 30, f"Prometheus did not hold {answers} answers of {model}")
