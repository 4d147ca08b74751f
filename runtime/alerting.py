"""The alert rules the project ships: one file per part that exports the metrics they read.

The same files are loaded by the local platform's Prometheus, shipped as the PrometheusRule in
the cluster, and unit-tested with ``promtool test rules``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["ALERT_RULE_FILES", "alert_rule_groups"]

_RUNTIME = Path(__file__).resolve().parent
ALERT_RULE_FILES = (
    _RUNTIME / "drift" / "alerts.yaml",
    _RUNTIME / "gateway" / "alerts.yaml",
    _RUNTIME / "modelserver" / "alerts.yaml",
)


def alert_rule_groups() -> list[dict[str, Any]]:
    """Every group of every file, in file order."""
    return [group for path in ALERT_RULE_FILES for group in yaml.safe_load(path.read_text())["groups"]]
