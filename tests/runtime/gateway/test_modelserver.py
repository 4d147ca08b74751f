"""Through the real model server: a registered sklearn MLflow model behind the gateway."""

from __future__ import annotations

import httpx
import pytest

from tests.runtime.gateway.conftest import gateway_config, model_spec, serve
from tests.runtime.modelserver.servers import features, start_registered_server, v2_columns

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_server(fraud_registry, tmp_path_factory):
    server = start_registered_server(fraud_registry, tmp_path_factory.mktemp("gateway-server") / "server.log")
    yield server
    server.stop()


async def test_gateway_serves_the_real_model_and_passes_its_errors_on(model_server, peer):
    failing = peer(mode="fail")
    spec = model_spec(fallback=None, circuitBreaker={"failureThreshold": 1000, "cooldownMs": 1000})
    config = gateway_config(spec, {"v1": model_server.url, "v2": failing.url}, model="fraud")
    frame = features(5, seed=11)
    body = v2_columns(frame)
    direct = httpx.post(f"{model_server.url}/v2/models/fraud/infer", json=body, timeout=30).json()
    async with serve(config) as client:
        answers = [await client.post("/v2/models/fraud/infer", json=body) for _ in range(6)]
        v1 = await client.post("/v1/models/fraud:predict", json={"instances": frame.to_dict(orient="records")})
        missing = await client.post("/v2/models/fraud/infer", json=v2_columns(frame[["amount", "count"]]))
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-ml-serving-variant"] == "v1"
        assert answer.json()["outputs"] == direct["outputs"]
    assert v1.status_code == 200, v1.text
    assert v1.json()["predictions"] == pytest.approx(direct["outputs"][0]["data"])
    assert missing.status_code == 400
    assert "score" in missing.json()["error"]
