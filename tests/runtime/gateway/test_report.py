from __future__ import annotations

from runtime.gateway.report import build_report
from runtime.gateway.stats import ModelStats, percentile
from tests.runtime.gateway.conftest import gateway_config, model_spec, serve, v2


def test_percentile_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 50) is None


def test_report_rates_per_variant():
    stats = ModelStats(["v1", "v2"], ["v3"])
    stats.requests, stats.fallbacks = 10, 2
    v2s = stats.variants["v2"]
    v2s.routed, v2s.calls, v2s.errors, v2s.fallbacks, v2s.served = 4, 4, 3, 2, 1
    v2s.latencies_ms.extend([5.0, 7.0])
    stats.shadows["v3"].compared, stats.shadows["v3"].agreed = 8, 6
    report = build_report("m", stats, {"v1": "primary", "v2": "canary"}, {"v1": 60.0, "v2": 40.0})
    by_name = {v["variant"]: v for v in report["variants"]}
    assert by_name["v2"]["error_rate"] == 0.75
    assert by_name["v2"]["fallback_rate"] == 0.5
    assert (by_name["v2"]["p50_ms"], by_name["v2"]["p99_ms"]) == (5.0, 7.0)
    assert by_name["v1"]["error_rate"] is None and by_name["v1"]["p50_ms"] is None
    assert report["fallback_rate"] == 0.2
    assert report["shadows"][0]["agreement"] == 0.75


async def test_report_endpoint_after_traffic(peer):
    p1, p2 = peer(), peer(mode="fail")
    spec = model_spec(fallback={"value": -1}, circuitBreaker={"failureThreshold": 1000, "cooldownMs": 1000})
    async with serve(gateway_config(spec, {"v1": p1.url, "v2": p2.url})) as client:
        for _ in range(20):
            await client.post("/v2/models/m/infer", json=v2([1.0]))
        report = (await client.get("/rollouts/m/report")).json()
        missing = await client.get("/rollouts/nope/report")
    by_name = {v["variant"]: v for v in report["variants"]}
    assert report["requests"] == 20 and report["fallbacks"] == 0
    assert by_name["v1"]["served"] == 20 and by_name["v1"]["error_rate"] == 0.0
    assert by_name["v1"]["p50_ms"] > 0
    assert by_name["v2"]["errors"] == by_name["v2"]["requests"] > 0
    assert missing.status_code == 404
