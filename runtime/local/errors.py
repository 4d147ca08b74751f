"""The errors of this package, in one place: each a ``MLServingError`` with its HTTP status."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from runtime.errors import MLServingError

if TYPE_CHECKING:
    from runtime.local.process import PartSpec

__all__ = ["PortInUse", "PartFailed", "SeedError", "Stopped"]


class PortInUse(MLServingError):
    def __init__(self, spec: PartSpec) -> None:
        hint = f"; {spec.port_hint}" if spec.port_hint else ""
        super().__init__(
            f"port {spec.port} on {spec.host} is already in use; the {spec.name} needs it. "
            f"Stop whatever listens there (e.g. `ss -ltnp 'sport = :{spec.port}'`){hint}"
        )
        self.part = spec.name
        self.port = spec.port


class PartFailed(MLServingError):
    """A part did not come up: it exited, or it was not ready before its deadline."""

    def __init__(self, part: str, reason: str, log_path: Path | None = None, tail: str = "") -> None:
        message = f"{part} failed to start: {reason}"
        if log_path is not None:
            message += f"\n--- last lines of {log_path} ---\n{tail.rstrip() or '(empty log)'}"
        super().__init__(message)
        self.part = part
        self.reason = reason
        self.tail = tail


class SeedError(MLServingError):
    """The registry cannot be brought to what the stack names."""


class Stopped(MLServingError):
    """The supervisor is stopping: nothing more is started."""

    def __init__(self) -> None:
        super().__init__("stopping: not starting anything more")
