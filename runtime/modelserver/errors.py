"""The errors of this package, in one place: each a ``MLServingError`` with its HTTP status."""

from __future__ import annotations

from http import HTTPStatus

from runtime.errors import MLServingError

__all__ = ["PredictionFailed"]


class PredictionFailed(MLServingError):
    status = HTTPStatus.INTERNAL_SERVER_ERROR
