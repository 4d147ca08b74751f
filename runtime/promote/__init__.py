"""Progressive delivery: promote, hold or roll back each canary from the fleet's metrics."""

__all__ = ["analysis", "prometheus", "stackedit", "shadows", "cli"]
