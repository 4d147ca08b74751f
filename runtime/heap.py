"""A serving process's heap, settled once it is built, so that full collections stay short.

A serving process (gateway, drift monitor, model server) holds some 10^5 long-lived objects from
start-up (FastAPI, pydantic, numpy, pandas, scipy, the config, the model) that live as long as
the process. CPython's full (generation 2) collection walks every tracked object, and under load
the collector found enough survivors to run one every few seconds: each one stopped the event
loop, and every request in flight waited for it (``bench/gateway_probe.py`` measured such pauses
as the largest event-loop stalls and the tail of the gateway's own time; in the drift monitor
under closed-loop taps they took a quarter of its CPU). ``settle`` collects once and moves what
is left into the permanent generation (``gc.freeze``), so later collections walk only what was
made after it. What is frozen is still freed by reference counting; only cycles among start-up
objects stay.

A process whose requests leave no reference cycles (the gateway: ``tests/runtime/gateway/
test_coalesce.py``) can also collect its young generation less often (``young``). There every
live young object belongs to a request in flight, so a young collection finds nothing to free,
and it walks each in-flight payload: at concurrency 32 the gateway ran one every 25 requests,
0.35 ms each (``bench/gateway_probe.py``). Cycles that do arise (a cancelled upstream call's
exception, held by its connection) are still collected, at most ``young`` objects at a time.
"""

from __future__ import annotations

import gc

__all__ = ["settle"]


def settle(young: int | None = None) -> int:
    """Collect, then freeze every surviving object out of the collector; returns how many.
    ``young``: the net allocations that start a young collection (CPython's default is 700)."""
    gc.collect()
    gc.freeze()
    if young is not None:
        gc.set_threshold(young, *gc.get_threshold()[1:])
    return gc.get_freeze_count()
