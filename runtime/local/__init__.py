"""The embedded platform: the local stack's rollouts as supervised processes on loopback."""

from runtime.local.layout import Layout, LocalSettings
from runtime.local.platform import LocalPlatform
from runtime.local.process import PartFailed, PartSpec, PortInUse
from runtime.local.supervisor import Supervisor

__all__ = ["LocalPlatform", "Layout", "LocalSettings", "Supervisor", "PartSpec", "PartFailed", "PortInUse"]
