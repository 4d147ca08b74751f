import asyncio
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.batching import AdaptiveBatcher, ShuttingDown, Unbatched


class Recorder:
    """A model that doubles its input, records each call's rows, and can be held."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.release = threading.Event()
        self.release.set()
        self.started = threading.Event()

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        self.started.set()
        if not self.release.wait(timeout=10):
            raise TimeoutError("held too long")
        if (rows < 0).any():
            raise ValueError("negative rows")
        self.calls.append(len(rows))
        return rows * 2


async def wait_until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.001)


async def held(max_batch_size: int, max_latency_ms: float) -> tuple[Recorder, AdaptiveBatcher, asyncio.Task]:
    """A batcher whose first predict (of the row 0.0) is running and held until released."""
    model = Recorder()
    model.release.clear()
    batcher = AdaptiveBatcher(model, max_batch_size=max_batch_size, max_latency_ms=max_latency_ms)
    first = asyncio.create_task(batcher.predict(np.array([0.0]), 1))
    await wait_until(model.started.is_set)
    return model, batcher, first


async def test_a_lone_request_does_not_wait_out_the_window():
    model = Recorder()
    batcher = AdaptiveBatcher(model, max_batch_size=32, max_latency_ms=1000)
    start = time.monotonic()
    result = await batcher.predict(np.array([1.0, 2.0]), 2)
    assert time.monotonic() - start < 0.5
    assert result.tolist() == [2.0, 4.0]
    await batcher.close()


async def test_requests_arriving_during_a_predict_join_one_batch():
    model, batcher, first = await held(32, 50)
    rest = [asyncio.create_task(batcher.predict(np.array([float(i)]), 1)) for i in range(1, 10)]
    await asyncio.sleep(0)
    model.release.set()
    results = await asyncio.gather(first, *rest)
    assert [r.tolist() for r in results] == [[2.0 * i] for i in range(10)]
    assert model.calls == [1, 9]
    await batcher.close()


async def after_a_busy_batch(max_latency_ms: float, busy: int) -> tuple[Recorder, AdaptiveBatcher]:
    """A batcher whose last batch held ``busy`` requests (after the held first one): the next gathers."""
    model, batcher, blocker = await held(32, max_latency_ms)
    waiting = [asyncio.create_task(batcher.predict(np.array([1.0]), 1)) for _ in range(busy)]
    await asyncio.sleep(0)
    model.release.set()
    await asyncio.gather(blocker, *waiting)
    return model, batcher


async def test_after_a_busy_batch_it_gathers_until_the_window_closes():
    model, batcher = await after_a_busy_batch(60, 8)
    start = time.monotonic()
    await asyncio.gather(*(batcher.predict(np.array([2.0]), 1) for _ in range(3)))
    assert time.monotonic() - start >= 0.05
    assert model.calls == [1, 8, 3]
    await batcher.close()


async def prepared_then_predicted(batcher: AdaptiveBatcher, value: float, ready: asyncio.Event) -> np.ndarray:
    """A request announced while it is prepared (as images are decoded), then predicted."""
    with batcher.coming():
        await ready.wait()
    return await batcher.predict(np.array([value]), 1)


async def test_requests_announced_as_coming_join_the_batch_instead_of_going_alone():
    model = Recorder()
    batcher = AdaptiveBatcher(model, max_batch_size=32, max_latency_ms=2000)
    ready = [asyncio.Event() for _ in range(4)]
    tasks = [asyncio.create_task(prepared_then_predicted(batcher, float(i), ready[i])) for i in range(4)]
    await asyncio.sleep(0.01)
    start = time.monotonic()
    for event in ready:  # prepared one after the other, as one decode thread hands them over
        event.set()
        await asyncio.sleep(0.02)
    results = await asyncio.gather(*tasks)
    assert [r.tolist() for r in results] == [[2.0 * i] for i in range(4)]
    assert model.calls == [4], "each request went alone although the others were on their way"
    assert time.monotonic() - start < 1.0, "the batch waited out the window after the last one arrived"
    await batcher.close()


async def test_a_request_that_fails_while_coming_does_not_hold_the_batch():
    model = Recorder()
    batcher = AdaptiveBatcher(model, max_batch_size=32, max_latency_ms=2000)
    failing = asyncio.Event()

    async def fails() -> None:
        with batcher.coming():
            await failing.wait()
            raise ValueError("not an image")

    doomed = asyncio.create_task(fails())
    await asyncio.sleep(0)
    start = time.monotonic()
    first = asyncio.create_task(batcher.predict(np.array([1.0]), 1))
    await asyncio.sleep(0.05)
    assert not first.done(), "the batch left without the request announced as coming"
    failing.set()
    assert (await first).tolist() == [2.0]
    assert time.monotonic() - start < 1.0
    with pytest.raises(ValueError):
        await doomed
    await batcher.close()


async def test_unbatched_has_nothing_to_wait_for():
    model = Recorder()
    direct = Unbatched(model)
    with direct.coming():
        pass
    assert (await direct.predict(np.array([1.0]), 1)).tolist() == [2.0]
    await direct.close()


async def test_a_request_at_or_above_the_limit_is_served_alone():
    model, batcher, first = await held(4, 50)
    small = [asyncio.create_task(batcher.predict(np.array([1.0]), 1)) for _ in range(2)]
    big = asyncio.create_task(batcher.predict(np.arange(10.0), 10))
    tail = asyncio.create_task(batcher.predict(np.array([3.0]), 1))
    await asyncio.sleep(0)
    model.release.set()
    await asyncio.gather(first, *small, big, tail)
    assert (await big).tolist() == (np.arange(10.0) * 2).tolist()
    assert model.calls == [1, 2, 10, 1]
    await batcher.close()


async def test_one_requests_bad_rows_never_fail_the_others():
    model, batcher, first = await held(32, 50)
    good = [asyncio.create_task(batcher.predict(np.array([float(i), 1.0]), 2)) for i in range(3)]
    bad = asyncio.create_task(batcher.predict(np.array([-1.0]), 1))
    await asyncio.sleep(0)
    model.release.set()
    await first
    assert [(await g).tolist() for g in good] == [[0.0, 2.0], [2.0, 2.0], [4.0, 2.0]]
    with pytest.raises(ValueError, match="negative rows"):
        await bad
    await batcher.close()


async def test_close_finishes_queued_requests_then_refuses_new_ones():
    model = Recorder()
    model.release.clear()
    batcher = AdaptiveBatcher(model, max_batch_size=4, max_latency_ms=50)
    queued = [asyncio.create_task(batcher.predict(np.array([float(i)]), 1)) for i in range(10)]
    await wait_until(model.started.is_set)
    closing = asyncio.create_task(batcher.close())
    await asyncio.sleep(0.01)
    with pytest.raises(ShuttingDown, match="shutting down"):
        await batcher.predict(np.array([1.0]), 1)
    model.release.set()
    await closing
    assert [(await q).tolist() for q in queued] == [[2.0 * i] for i in range(10)]
    assert sum(model.calls) == 10


async def test_unbatched_predicts_each_request():
    model = Recorder()
    direct = Unbatched(model)
    results = await asyncio.gather(*(direct.predict(np.array([float(i)]), 1) for i in range(5)))
    assert [r.tolist() for r in results] == [[2.0 * i] for i in range(5)]
    assert model.calls == [1] * 5
    await direct.close()
    with pytest.raises(ShuttingDown):
        await direct.predict(np.array([1.0]), 1)


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=40), max_batch=st.integers(1, 16))
def test_concurrent_requests_of_random_sizes_get_exactly_their_rows(sizes, max_batch):
    async def scenario():
        model = Recorder()
        batcher = AdaptiveBatcher(model, max_batch_size=max_batch, max_latency_ms=2)
        payloads = []
        start = 0
        for size in sizes:
            payloads.append(np.arange(start, start + size, dtype=float))
            start += size
        results = await asyncio.gather(*(batcher.predict(p, len(p)) for p in payloads))
        await batcher.close()
        return payloads, results, model.calls

    payloads, results, calls = asyncio.run(scenario())
    for payload, result in zip(payloads, results):
        assert result.tolist() == (payload * 2).tolist()
    assert sum(calls) == sum(sizes)
    assert all(c <= max_batch or c in sizes for c in calls)


async def test_a_request_with_an_optional_input_others_omit_keeps_it():
    seen: list[tuple[str, ...]] = []

    def model(columns: dict) -> np.ndarray:
        seen.append(tuple(columns))
        x = columns.get("x", np.zeros(len(columns["a"])))
        return columns["a"] + 100 * x

    batcher = AdaptiveBatcher(model, max_batch_size=64, max_latency_ms=50)
    payloads = [
        {"a": np.array([float(i)])} if i % 2 else {"a": np.array([float(i)]), "x": np.array([1.0])} for i in range(12)
    ]
    results = await asyncio.gather(*(batcher.predict(p, 1) for p in payloads))
    await batcher.close()
    for i, result in enumerate(results):
        assert result.tolist() == [float(i) + (0 if i % 2 else 100)], f"request {i} lost or gained input 'x'"
    assert len(seen) < len(payloads), "requests of each layout still share predict calls"


class OnThread(Recorder):
    """A Recorder that also notes the thread of each call."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[str] = set()

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        self.threads.add(threading.current_thread().name)
        return super().__call__(rows)


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "in-thread"])
async def test_inline_predicts_on_the_event_loop_and_batches_as_the_thread_does(inline):
    model = OnThread()
    batcher = AdaptiveBatcher(model, max_batch_size=4, max_latency_ms=20, inline=inline)
    assert batcher.inline is inline
    payloads = [np.arange(i, i + 1 + i % 3, dtype=float) for i in range(12)]
    results = await asyncio.gather(*(batcher.predict(p, len(p)) for p in payloads))
    bad = batcher.predict(np.array([-1.0]), 1)
    good = batcher.predict(np.array([5.0]), 1)
    outcome = await asyncio.gather(bad, good, return_exceptions=True)
    await batcher.close()
    for payload, result in zip(payloads, results):
        assert result.tolist() == (payload * 2).tolist()
    assert isinstance(outcome[0], ValueError) and outcome[1].tolist() == [10.0]
    assert max(model.calls) <= 4 and len(model.calls) < len(payloads) + 2
    loop_thread = threading.current_thread().name
    assert model.threads == ({loop_thread} if inline else {t for t in model.threads if t.startswith("predict")})
    assert inline or loop_thread not in model.threads
    with pytest.raises(ShuttingDown):
        await batcher.predict(np.array([1.0]), 1)


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "in-thread"])
async def test_unbatched_inline_predicts_on_the_event_loop(inline):
    model = OnThread()
    direct = Unbatched(model, inline=inline)
    results = await asyncio.gather(*(direct.predict(np.array([float(i)]), 1) for i in range(3)))
    await direct.close()
    assert [r.tolist() for r in results] == [[0.0], [2.0], [4.0]]
    assert (model.threads == {threading.current_thread().name}) is inline


def expired_count(model: str) -> float:
    from runtime.batching.metrics import BATCH_EXPIRED

    return BATCH_EXPIRED.labels(model)._value.get()


async def test_a_request_still_queued_past_its_deadline_is_not_predicted():
    """Its caller has gone (the gateway gave up): the model's time goes to those still waiting."""
    from runtime.protocol.deadline import RequestTimedOut

    model, batcher, first = await held(32, 50)
    before = expired_count("model")
    late = asyncio.create_task(batcher.predict(np.array([-1.0]), 1, deadline=time.monotonic() + 0.05))
    kept = asyncio.create_task(batcher.predict(np.array([3.0]), 1, deadline=time.monotonic() + 30))
    unbounded = asyncio.create_task(batcher.predict(np.array([4.0]), 1))
    await asyncio.sleep(0.1)  # the first predict is still held: ``late`` runs out in the queue
    model.release.set()
    assert (await first).tolist() == [0.0]
    with pytest.raises(RequestTimedOut, match="in the batch queue, before its predict; it was not predicted"):
        await late
    assert (await kept).tolist() == [6.0] and (await unbounded).tolist() == [8.0]
    # The negative row would have failed the batch had it been predicted: it never was.
    assert model.calls == [1, 2]
    assert expired_count("model") == before + 1
    await batcher.close()


async def test_a_gathering_batch_goes_by_its_soonest_deadline_not_the_window():
    model, batcher = await after_a_busy_batch(2000, 4)  # the last batch held 4 requests
    start = time.monotonic()
    result = await batcher.predict(np.array([2.0]), 1, deadline=start + 0.15)
    waited = time.monotonic() - start
    assert result.tolist() == [4.0], "dispatched by its deadline, so predicted"
    assert 0.1 <= waited < 1.0, f"waited {waited * 1000:.0f} ms against a deadline of 150 ms and a window of 2 s"
    assert model.calls == [1, 4, 1]
    await batcher.close()


async def test_when_every_queued_request_has_run_out_the_worker_goes_on():
    model, batcher, first = await held(32, 50)
    late = [
        asyncio.create_task(batcher.predict(np.array([1.0]), 1, deadline=time.monotonic() + 0.02)) for _ in range(3)
    ]
    await asyncio.sleep(0.05)
    model.release.set()
    await first
    outcomes = await asyncio.gather(*late, return_exceptions=True)
    assert all(type(o).__name__ == "RequestTimedOut" for o in outcomes), outcomes
    assert (await batcher.predict(np.array([5.0]), 1)).tolist() == [10.0]
    assert model.calls == [1, 1]
    await batcher.close()


async def test_unbatched_does_not_predict_a_request_whose_turn_comes_too_late():
    from runtime.protocol.deadline import RequestTimedOut

    model = Recorder()
    model.release.clear()
    unbatched = Unbatched(model, model="solo")
    before = expired_count("solo")
    first = asyncio.create_task(unbatched.predict(np.array([1.0]), 1))
    await wait_until(model.started.is_set)
    late = asyncio.create_task(unbatched.predict(np.array([2.0]), 1, deadline=time.monotonic() + 0.05))
    kept = asyncio.create_task(unbatched.predict(np.array([3.0]), 1, deadline=time.monotonic() + 30))
    await asyncio.sleep(0.1)
    model.release.set()
    assert (await first).tolist() == [2.0] and (await kept).tolist() == [6.0]
    with pytest.raises(RequestTimedOut, match="not predicted"):
        await late
    assert model.calls == [1, 1] and expired_count("solo") == before + 1
    await unbatched.close()
