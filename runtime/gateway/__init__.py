"""The fallback gateway: traffic policy, latency budget, fallback, shadow, drift tap."""

from runtime.gateway.app import create_app
from runtime.gateway.settings import Settings

__all__ = ["create_app", "Settings"]
