"""Failure reasons: every one is counted from the start, and a fallback says which one it was."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from runtime.gateway.errors import CallFailure, NoCall, UpstreamError
from tests.runtime.gateway.conftest import gateway_config, model_spec, serve, v2


async def test_every_call_failure_has_a_counter_for_every_variant_before_any_request(peer):
    p = peer()
    async with serve(gateway_config(model_spec(), {"v1": p.url, "v2": p.url})) as client:
        text = (await client.get("/metrics")).text
    for variant in ("v1", "v2"):
        for reason in CallFailure:
            series = (
                f'ml_serving_gateway_upstream_failures_total{{model="m",reason="{reason}",variant="{variant}"}} 0.0'
            )
            assert series in text, f"no counter for {reason} on {variant}"


async def test_a_fallback_names_the_failure_as_its_reason_in_header_and_metric():
    # Nothing listens on port 9: every call fails to connect, and the fallback answers.
    config = gateway_config(model_spec(), {"v1": "http://127.0.0.1:9", "v2": "http://127.0.0.1:9"})
    async with serve(config) as client:
        answer = await client.post("/v2/models/m/infer", json=v2([1.0]))
        text = (await client.get("/metrics")).text
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-ml-serving-fallback"] == CallFailure.CONNECT.value, answer.headers
    fallbacks = {
        (sample.labels["variant"], sample.labels["reason"]): sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "ml_serving_gateway_fallbacks"
        for sample in family.samples
        if sample.name == "ml_serving_gateway_fallbacks_total" and sample.value
    }
    assert list(fallbacks.values()) == [1.0], fallbacks  # one fallback, under the variant it was routed to
    assert [reason for _, reason in fallbacks] == [CallFailure.CONNECT.value], fallbacks


def test_reasons_are_their_label_values():
    assert str(CallFailure.HTTP_5XX) == "http_5xx" and f"{NoCall.BREAKER_OPEN}" == "breaker_open"
    assert str(UpstreamError(CallFailure.TIMEOUT, "after 5 ms")) == "timeout: after 5 ms"
    assert str(UpstreamError(CallFailure.CONNECT)) == "connect"
