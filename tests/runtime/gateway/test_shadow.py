from __future__ import annotations

import asyncio
import time

from runtime.gateway.shadow import outputs_agree
from tests.runtime.gateway.conftest import gateway_config, model_spec, serve, v2, wait_for


def _out(data, name="predict", shape=None):
    return [{"name": name, "shape": shape or [len(data)], "datatype": "FP64", "data": data}]


def test_agreement_rules():
    assert outputs_agree(_out([1.0, 2.0]), _out([1.0, 2.0 + 1e-9]))
    assert not outputs_agree(_out([1.0, 2.0]), _out([1.0, 2.1]))
    assert outputs_agree(_out(["fraud", "ok"]), _out(["fraud", "ok"]))
    assert not outputs_agree(_out(["fraud", "ok"]), _out(["fraud", "fraud"]))
    assert not outputs_agree(_out([1, 0]), _out([1, 0], name="label"))
    assert not outputs_agree(_out([1.0]), _out([1.0], shape=[1, 1]))
    assert not outputs_agree(_out([True]), _out([1.0]))


def test_agreement_on_the_declared_outputs_only():
    served = [*_out(["7"], name="class"), *_out([0.9, 0.1], name="scores")]
    shadow = [*_out(["7"], name="class"), *_out([0.8, 0.2], name="scores")]
    assert not outputs_agree(served, shadow)
    assert outputs_agree(served, shadow, ["class"])
    assert not outputs_agree(served, [*_out(["1"], name="class"), *_out([0.9, 0.1], name="scores")], ["class"])
    assert not outputs_agree(served, shadow, ["label"])  # nothing to compare is no agreement


def _spec(**shadow):
    return model_spec(
        variants=[
            {"model": "models:/m/1", "role": "primary", "weight": 100},
            {"model": "models:/m/2", "role": "shadow", "mirrorPercent": 100},
        ],
        shadow=shadow or {"maxConcurrency": 16, "timeoutMs": 1000},
    )


async def test_shadow_never_changes_or_delays_the_answer(peer):
    primary = peer()
    # A shadow slow enough that an answer which waited for it could not pass for one that did
    # not, on a loaded machine too.
    shadow = peer(mode="slow", delay_s=1.0, offset=1.0)
    spec = _spec(maxConcurrency=16, timeoutMs=3000)
    async with serve(gateway_config(spec, {"v1": primary.url, "v2": shadow.url})) as client:
        for value in (1.0, 2.0, 3.0):
            t0 = time.monotonic()
            response = await client.post("/v2/models/m/infer", json=v2([value]))
            assert time.monotonic() - t0 < 0.8, "the slow shadow delayed the answer"
            assert response.json()["outputs"][0]["data"] == [value]
            assert response.headers["x-ml-serving-variant"] == "v1"
        await wait_for(lambda: client.app.state.gateway.routes["m"].stats.shadows["v2"].compared == 3)
        report = (await client.get("/rollouts/m/report")).json()
    (s,) = report["shadows"]
    assert (s["mirrored"], s["compared"], s["agreement"], s["errors"]) == (3, 3, 0.0, 0)
    assert s["p50_ms"] >= 1000


async def test_agreeing_shadow_and_failing_shadow_are_counted(peer):
    primary, shadow = peer(), peer()
    async with serve(gateway_config(_spec(), {"v1": primary.url, "v2": shadow.url})) as client:
        for _ in range(4):
            await client.post("/v2/models/m/infer", json=v2([1.0, 2.0]))
        stats = client.app.state.gateway.routes["m"].stats.shadows["v2"]
        await wait_for(lambda: stats.compared == 4)
        assert stats.agreed == 4
        shadow.state.mode = "fail"
        response = await client.post("/v2/models/m/infer", json=v2([1.0]))
        assert response.status_code == 200 and response.json()["outputs"][0]["data"] == [1.0]
        await wait_for(lambda: stats.errors == 1)
        text = (await client.get("/metrics")).text
    assert 'ml_serving_gateway_shadow_comparisons_total{agreed="true",model="m",variant="v2"} 4.0' in text
    assert 'ml_serving_gateway_shadow_requests_total{model="m",outcome="error",variant="v2"} 1.0' in text


async def test_saturated_shadow_drops_and_counts(peer):
    primary = peer()
    shadow = peer(mode="hang", hang_s=1.0)
    spec = _spec(maxConcurrency=2, timeoutMs=300)
    async with serve(gateway_config(spec, {"v1": primary.url, "v2": shadow.url})) as client:
        answers = await asyncio.gather(*(client.post("/v2/models/m/infer", json=v2([1.0])) for _ in range(6)))
        assert all(a.status_code == 200 for a in answers)
        stats = client.app.state.gateway.routes["m"].stats.shadows["v2"]
        assert stats.dropped == 4 and stats.mirrored == 2
        await wait_for(lambda: stats.errors == 2)
        report = (await client.get("/rollouts/m/report")).json()
    assert report["shadows"][0]["dropped"] == 4
    assert report["shadows"][0]["error_rate"] == 1.0
