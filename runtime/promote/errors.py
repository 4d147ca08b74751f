"""The errors of this package, in one place: each a ``MLServingError`` with its HTTP status."""

from __future__ import annotations

from runtime.errors import MLServingError

__all__ = ["PrometheusError"]


class PrometheusError(MLServingError):
    """Prometheus could not be queried, or answered with an error."""
