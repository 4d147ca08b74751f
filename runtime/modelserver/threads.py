"""How many threads one predict call may use, set before the model's libraries load.

scikit-learn's compiled estimators (HistGradientBoosting, forests' and k-means' OpenMP loops)
and the BLAS behind numpy start one thread per core they see at every parallel region, and
OpenMP's threads spin, then wait for each other at every barrier. When the process has fewer
cores than that, because other processes share the machine or a CPU quota (Kubernetes turns
``resources.limits.cpu`` into one) allows fewer, a barrier waits for a thread the kernel has
descheduled, once per region. Measured here with the fraud pipeline on two cores and two busy
processes beside it: one-row predicts at p99 748 ms with OpenMP's default of two threads, 31 ms
with one (bench/threads.py). ``os.cpu_count()``, which OpenMP goes by, counts the node's cores,
not the pod's.

OpenMP reads ``OMP_NUM_THREADS`` once, when the library loads, and a limit set later from
Python (threadpoolctl) holds only for the thread that set it, not for the batcher's thread
that predicts. So the count goes into the environment before anything imports numpy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping, Sequence

__all__ = ["THREAD_ENV", "SETTING_ENV", "predict_threads", "apply", "loaded_limits"]

THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
"""What OpenMP, OpenBLAS and MKL read at load."""
SETTING_ENV = "ML_SERVING_PREDICT_THREADS"
OPTION = "--predict_threads"


def _setting(argv: Sequence[str], env: Mapping[str, str]) -> tuple[str, str] | None:
    """``(where, value)`` of the setting: the last ``--predict_threads`` on the command line, else
    the environment. Checked as a whole by the settings (runtime/modelserver/settings.py)."""
    value = None
    for i, arg in enumerate(argv):
        if arg == OPTION and i + 1 < len(argv):
            value = (OPTION, argv[i + 1])
        elif arg.startswith(OPTION + "="):
            value = (OPTION, arg.split("=", 1)[1])
    if value is None and env.get(SETTING_ENV):
        value = (SETTING_ENV, env[SETTING_ENV])
    return value


def predict_threads(argv: Sequence[str], env: Mapping[str, str]) -> tuple[int, str]:
    """The count and where it came from: the setting, else ``OMP_NUM_THREADS`` as given, else
    the cores this process may use (its affinity, fewer under a CPU quota)."""
    setting = _setting(argv, env)
    if setting is not None:
        where, value = setting
        try:
            count = int(value)
        except ValueError:
            count = 0
        if count < 1:
            raise ValueError(f"{where}: expected a whole number of threads above 0, got {value!r}")
        return count, where
    given = env.get("OMP_NUM_THREADS", "").strip()
    if given.isdigit() and int(given) > 0:
        return int(given), "OMP_NUM_THREADS"
    from runtime.cores import usable_cores

    return usable_cores(), "the cores this process may use"


def apply(argv: Sequence[str], env: MutableMapping[str, str] | None = None) -> tuple[int, str]:
    """Write the count into ``env`` (this process's environment) for the libraries to read."""
    env = os.environ if env is None else env
    count, where = predict_threads(argv, env)
    for name in THREAD_ENV:
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
