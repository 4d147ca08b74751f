"""The errors of this package, in one place: each a ``MLServingError`` with its HTTP status."""

from __future__ import annotations

from runtime.errors import MLServingError

__all__ = ["ProfileError"]


class ProfileError(MLServingError):
    """A reference profile cannot be built, read or understood."""
