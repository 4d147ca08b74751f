"""The request path under faults: the real gateway process in front of a peer process that
misbehaves on command, driven by concurrent clients.

Properties, each checked under every fault: every answer within the latency budget, as the
gateway measured it (its Server-Timing): p99 within budget + 5 ms, none beyond budget + 25 ms,
each bound widened by an allowance measured at the same moment: the larger of the gateway's own
time on a healthy answer (a second model in front of a healthy peer, driven alongside) and the
scheduling delay a separate process on the machine suffered (p99 for the p99 bound, maximum for
the maximum). On a quiet machine that is about a millisecond; on a shared 2-core one, tens to
hundreds. As the client measured it, no answer beyond budget + 250 ms plus the same allowance,
which allows for a busy machine but never for a call left waiting on a stalled model server.
Where a fallback is declared, no client ever sees an error; after a fault ends the variant serves
again within the breaker's cool-down plus one probe; a poison row costs only its own request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.runtime.gateway.faults import (
    Process,
    control,
    drive,
    drive_measured,
    percentile,
    recovery_s,
    start_gateway,
    start_peer,
)

pytestmark = pytest.mark.slow

BUDGET_MS = 100.0
CONTROL_DELAY_MS = 80.0
COOLDOWN_MS = 300.0
ONE = [{"model": "models:/m/1", "role": "primary", "weight": 100}]
MODELS = {
    # The breaker never opens: every call meets the fault, which is what the budget must survive.
    "m": {
        "variants": ONE,
        "latencyBudgetMs": BUDGET_MS,
        "fallback": {"value": -1},
        "circuitBreaker": {"failureThreshold": 1_000_000, "cooldownMs": COOLDOWN_MS},
    },
    "r": {
        "variants": ONE,
        "latencyBudgetMs": BUDGET_MS,
        "fallback": {"value": -1},
        "circuitBreaker": {"failureThreshold": 3, "cooldownMs": COOLDOWN_MS},
    },
    # Isolation, not time: a budget no re-send on a busy machine runs out of.
    "p": {
        "variants": ONE,
        "latencyBudgetMs": 2000,
        "fallback": {"value": -1},
        "circuitBreaker": {"failureThreshold": 1_000_000, "cooldownMs": COOLDOWN_MS},
    },
    # In front of a second, healthy peer: the control measured beside each fault.
    "c": {"variants": ONE, "latencyBudgetMs": 2000, "fallback": {"value": -1}},
}


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Process, Process]]:
    work: Path = tmp_path_factory.mktemp("faults")
    started: list[Process] = []
    try:
        peer = start_peer(work / "peer.log")
        started.append(peer)
        healthy = start_peer(work / "healthy.log")
        started.append(healthy)
        control(healthy, mode="slow", delay_s=CONTROL_DELAY_MS / 1000)
        urls = {m: {"v1": healthy.url if m == "c" else peer.url} for m in MODELS}
        started.append(start_gateway(MODELS, urls, work))
        yield peer, started[-1]
    finally:
        for process in reversed(started):
            process.stop()


@pytest.fixture
def peer(platform: tuple[Process, Process]) -> Iterator[Process]:
    yield platform[0]
    control(platform[0], mode="answer", delay_s=0.05)


def url(platform: tuple[Process, Process], model: str) -> str:
    return f"{platform[1].url}/v2/models/{model}/infer"


FAULTS = {
    "black hole": {"mode": "blackhole"},
    "slow past the budget": {"mode": "slow", "delay_s": 0.5},
    "reset mid-response": {"mode": "reset"},
    "5xx": {"mode": "fail"},
    "garbage JSON": {"mode": "garbage"},
    "wrong number of rows": {"mode": "wrong_rows"},
}


MIN_ANSWERS = 50
"""Answers enough for a p99 to mean something; the clients go on past their second until they are in."""

PACE_S = 0.1
"""Each client sends at most every 100 ms: 16 clients make ~160 requests a second, a load the
gateway carries on a busy 2-core machine, so what is measured is the fault, not an overload."""


@pytest.mark.parametrize("fault", list(FAULTS), ids=list(FAULTS))
async def test_every_answer_within_budget_and_none_an_error(platform, peer, fault):
    # Control, at the same moment: the same load on a model whose healthy peer answers in 80 ms.
    # What the gateway adds to that answer is its own time on this machine now (on a shared
    # 2-core machine, tens of milliseconds); a fault may cost no more than the budget plus the
    # bounds plus that.
    control(peer, **FAULTS[fault])
    (shots, lag), healthy = await asyncio.gather(
        drive_measured(url(platform, "m"), concurrency=16, seconds=1.0, pace_s=PACE_S, at_least=MIN_ANSWERS),
        drive(url(platform, "c"), concurrency=8, seconds=1.0, pace_s=PACE_S),
    )
    own = [max(0.0, s.server_ms - CONTROL_DELAY_MS) for s in healthy if s.from_model]
    assert own, "the control model answered nothing"
    slack_p99, slack_max = max(percentile(own, 99), percentile(lag, 99)), max(max(own), max(lag))
    assert len(shots) >= MIN_ANSWERS, f"only {len(shots)} answers in three seconds"
    failed = [s for s in shots if s.failed]
    assert not failed, (
        f"{len(failed)} of {len(shots)} clients saw an error under '{fault}' though a fallback is declared: {failed[:3]}"
    )
    assert all(s.fallback is not None and s.data == [-1] for s in shots), (
        "an answer passed the fault on as a prediction"
    )
    server = [s.server_ms for s in shots]
    noise = (
        f"(the gateway's own time on a healthy answer meanwhile: p99 {percentile(own, 99):.1f} ms, max {max(own):.1f} ms; "
        f"scheduling delay: p99 {percentile(lag, 99):.1f} ms, max {max(lag):.1f} ms)"
    )
    assert percentile(server, 99) <= BUDGET_MS + 5 + slack_p99, (
        f"p99 {percentile(server, 99):.1f} ms for a budget of {BUDGET_MS:g} ms {noise}"
    )
    assert max(server) <= BUDGET_MS + 25 + slack_max, (
        f"an answer took {max(server):.1f} ms for a budget of {BUDGET_MS:g} ms {noise}"
    )
    client = max(s.latency_ms for s in shots)
    assert client <= BUDGET_MS + 250 + slack_max, (
        f"a client waited {client:.0f} ms for a budget of {BUDGET_MS:g} ms {noise}"
    )


@pytest.mark.parametrize("fault", ["black hole", "5xx", "reset mid-response"])
async def test_after_a_fault_the_variant_serves_within_cooldown_and_one_probe(platform, peer, fault):
    ended: list[float] = []

    def schedule(elapsed: float) -> None:
        if elapsed >= 0.8 and not ended:
            control(peer, mode="answer")
            ended.append(time.monotonic())

    control(peer, **FAULTS[fault])
    shots, lag = await drive_measured(url(platform, "r"), concurrency=8, seconds=2.2, on_tick=schedule, pace_s=0.05)
    assert not [s for s in shots if s.failed]
    during = [s for s in shots if s.arrived < ended[0] - BUDGET_MS / 1000]
    assert during and not any(s.from_model for s in during), (
        f"answered by the model during '{fault}': {[s for s in during if s.from_model][:3]}"
    )
    assert any(s.fallback == "breaker_open" for s in during), "the breaker never opened under the fault"
    recovered = recovery_s(shots, ended[0])
    bound = (COOLDOWN_MS + BUDGET_MS + max(lag)) / 1000 + 0.05
    assert recovered is not None and recovered <= bound, (
        f"served again after {recovered} s; expected within {bound:.2f} s"
    )
    settled = [s for s in shots if s.sent > ended[0] + bound]
    share = sum(s.from_model for s in settled) / max(len(settled), 1)
    assert share > 0.9, f"{share:.0%} of the requests after recovery were answered by the model"


async def test_a_poison_row_costs_only_its_own_request(platform, peer):
    control(peer, mode="poison", delay_s=0.01)
    shots = await drive(
        url(platform, "p"),
        concurrency=16,
        seconds=1.5,
        value=lambda i: -1.0 - i if i % 8 == 3 else float(i),
        pace_s=0.05,
    )
    poisoned = [s for s in shots if s.value < 0]
    clean = [s for s in shots if s.value >= 0]
    assert poisoned and clean and not [s for s in shots if s.failed]
    assert all(s.fallback == "http_5xx" for s in poisoned), {s.fallback for s in poisoned}
    lost = [s for s in clean if not s.from_model]
    assert not lost, f"{len(lost)} of {len(clean)} clean requests paid for another's poison row: {lost[:3]}"
    assert all(s.data == [s.value] for s in clean)
