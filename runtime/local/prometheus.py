"""Prometheus for the local platform: Debian's ``prometheus`` binary scraping every part on
loopback, with the shipped alert rules (the drift monitor's and the gateway's) loaded.

Promotion (``python -m runtime.promote``) reads the fleet's counts from it, locally as in the
cluster. Where the binary is not installed the platform says so and runs without it.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from runtime.alerting import ALERT_RULE_FILES
from runtime.local.layout import Layout
from runtime.local.process import PartSpec

__all__ = [
    "prometheus_binary",
    "prometheus_config",
    "write_prometheus_config",
    "prometheus_part",
    "scrape_targets",
]


def prometheus_binary() -> str | None:
    return shutil.which("prometheus")


def prometheus_config(
    targets: Mapping[str, Sequence[str]], rule_files: Sequence[Path] = ALERT_RULE_FILES, scrape_interval_s: float = 5
) -> dict:
    """A configuration scraping ``job -> [host:port, ...]`` at ``/metrics``."""
    interval = f"{round(scrape_interval_s * 1000)}ms"  # Prometheus durations take no fractions
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [
            {"job_name": job, "metrics_path": "/metrics", "static_configs": [{"targets": list(addresses)}]}
            for job, addresses in targets.items()
            if addresses
        ],
    }


def scrape_targets(layout: Layout, parts: Sequence[PartSpec]) -> dict[str, list[str]]:
    """Job per kind of part: the gateway, the drift monitor, and the model servers together."""
    jobs: dict[str, list[str]] = {}
    slots = {slot.part_name for slot in layout.slots}
    for part in parts:
        job = "model-servers" if part.name in slots else part.name.replace(" ", "-")
        host = f"[{part.host}]" if ":" in part.host else part.host
        jobs.setdefault(job, []).append(f"{host}:{part.port}")
    return jobs


def write_prometheus_config(path: Path, targets: Mapping[str, Sequence[str]], scrape_interval_s: float = 5) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(prometheus_config(targets, scrape_interval_s=scrape_interval_s), sort_keys=False))
    return path


def prometheus_part(
    binary: str, config_path: Path, data_dir: Path, host: str, port: int, port_hint: str = ""
) -> PartSpec:
    listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return PartSpec(
        name="prometheus",
        argv=(
            binary,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={data_dir}",
            "--storage.tsdb.retention.time=2d",
            f"--web.listen-address={listen}",
        ),
        host=host,
        port=port,
        ready_path="/-/ready",
        cwd=data_dir.parent,
        port_hint=port_hint or "choose another with --prometheus-port or ML_SERVING_LOCAL_PROMETHEUS_PORT",
    )
