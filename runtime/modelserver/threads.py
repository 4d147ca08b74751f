"""How many threads one predict call may use, set before the model's libraries load.

scikit-learn's compiled estimators (HistGradientBoosting, forests' and k-means' OpenMP loops)
and the BLAS behind numpy start one thread per core they see at every parallel region, and
OpenMP's threads spin, then wait for each other at every barrier. When the process has fewer
cores than that, because other processes share the machine or a CPU quota (Kubernetes turns
``resources.limits.cpu`` into one) allows fewer, a barrier waits for a thread the kernel has
descheduled, once per region. Measured here with the fraud pipeline on two cores and two busy
processes beside it: one-row predicts at p99 720 ms with OpenMP's default of two threads, 33 ms
with one (bench/threads.py). ``os.cpu_count()``, which OpenMP goes by, counts the node's cores,
not the pod's.

OpenMP reads ``OMP_NUM_THREADS`` once, when the library loads, and a limit set later from
Python (threadpoolctl) holds only for the thread that set it, not for the batcher's thread
that predicts. So the count goes into the environment before anything imports numpy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping

__all__ = ["THREAD_ENV", "SETTING_ENV", "predict_threads", "apply", "loaded_limits"]

THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
"""What OpenMP, OpenBLAS and MKL read at load."""
SETTING_ENV = "ML_SERVING_PREDICT_THREADS"


def predict_threads(setting: int | None, env: Mapping[str, str]) -> tuple[int, str]:
    """The count and where it came from: the setting (``--predict_threads``,
    ``ML_SERVING_PREDICT_THREADS``, validated by runtime/modelserver/settings.py), else
    ``OMP_NUM_THREADS`` as given (its first level), else the cores this process may use (its
    affinity, fewer under a CPU quota)."""
    if setting is not None:
        return setting, "the predict_threads setting"
    given = env.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if given.isdigit() and int(given) > 0:
        return int(given), "OMP_NUM_THREADS"
    from runtime.cores import usable_cores

    return usable_cores(), "the cores this process may use"


def apply(setting: int | None, env: MutableMapping[str, str] | None = None) -> tuple[int, str]:
    """Write the count into ``env`` (this process's environment) for the libraries to read. An
    ``OMP_NUM_THREADS`` given is kept as it is unless the setting overrides it, and so are
    ``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS``."""
    env = os.environ if env is None else env
    count, where = predict_threads(setting, env)
    for name in THREAD_ENV:
        if setting is not None or name not in env:
            env[name] = str(count)
    return count, where


def loaded_limits() -> dict[str, int]:
    """What each thread pool library this process has loaded will use, as it reports it."""
    from threadpoolctl import threadpool_info

    limits: dict[str, int] = {}
    for pool in threadpool_info():
        api = str(pool.get("user_api"))
        limits[api] = max(limits.get(api, 0), int(pool.get("num_threads") or 0))
    return limits
