"""The errors of this package, in one place: each a ``MLServingError`` with its HTTP status."""

from __future__ import annotations

from runtime.errors import MLServingError

__all__ = ["RegistrationError"]


class RegistrationError(MLServingError):
    """A model cannot be registered with its lineage."""
