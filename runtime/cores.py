"""How many CPU cores this process may really use, for sizing its thread pools.

``os.cpu_count()`` counts the machine's cores. A process pinned to fewer (``taskset``, a cpuset)
or limited by a CPU quota (Kubernetes turns ``resources.limits.cpu`` into the cgroup's CFS
quota) that sizes its pools by it runs more threads than it has cores: they only take turns,
and each turn costs a context switch. Python 3.13's ``os.process_cpu_count`` reads the affinity
but not the quota.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

__all__ = ["usable_cores", "quota_cores"]

CGROUP = Path("/sys/fs/cgroup")


def quota_cores(root: Path = CGROUP) -> int | None:
    """Cores the cgroup's CPU quota allows (rounded up), or None when there is no quota.

    cgroup v2 writes ``<quota> <period>`` (or ``max <period>``) to ``cpu.max``; v1 keeps
    ``cpu.cfs_quota_us`` (-1 for none) and ``cpu.cfs_period_us``.
    """
    try:
        fields = (root / "cpu.max").read_text().split()
        quota, period = fields[0], fields[1]
    except (OSError, IndexError):
        try:
            quota = (root / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (root / "cpu" / "cpu.cfs_period_us").read_text().strip()
        except OSError:
            return None
    if quota in ("max", "-1"):
        return None
    try:
        return max(1, math.ceil(int(quota) / int(period)))
    except (ValueError, ZeroDivisionError):
        return None


def usable_cores() -> int:
    """The cores of this process's CPU affinity, fewer when a CPU quota allows fewer."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = quota_cores()
    return max(1, min(cores, quota) if quota else cores)
