from __future__ import annotations

import pytest

from runtime.errors import MLServingError
from runtime.gateway import Settings, create_app
from runtime.gateway.auth import TokenSet, Unauthorized, load_tokens
from tests.runtime.gateway.conftest import gateway_config, model_spec, serve, v2

ONE = [{"model": "models:/m/1", "role": "primary", "weight": 100}]


def test_token_check():
    tokens = TokenSet(["alpha", "beta"])
    tokens.check("Bearer beta")
    tokens.check("bearer alpha")
    for header, message in [
        (None, "missing"),
        ("Basic YWxwaGE=", "must be 'Bearer <token>'"),
        ("Bearer ", "must be 'Bearer <token>'"),
        ("Bearer gamma", "invalid bearer token"),
        ("Bearer alph", "invalid bearer token"),
    ]:
        with pytest.raises(Unauthorized, match=message):
            tokens.check(header)


def test_tokens_from_env_string_and_file(tmp_path):
    secret = tmp_path / "tokens"
    secret.write_text("t3\nt4, t5\n")
    assert load_tokens(" t1 ,t2,", str(secret)) == ["t1", "t2", "t3", "t4", "t5"]
    with pytest.raises(MLServingError, match="cannot read the gateway token file"):
        load_tokens(None, str(tmp_path / "missing"))


def test_auth_required_without_tokens_refuses_to_start():
    config = gateway_config(model_spec(variants=ONE), {"v1": "http://127.0.0.1:9"}).model_copy(
        update={"auth_required": True}
    )
    with pytest.raises(MLServingError, match="ML_SERVING_GATEWAY_TOKENS"):
        create_app(config, Settings(tokens=None, tokens_file=None))


async def test_model_routes_need_a_token_health_and_metrics_do_not(peer, tmp_path):
    p = peer()
    secret = tmp_path / "tokens"
    secret.write_text("s3cret\n")
    config = gateway_config(model_spec(variants=ONE), {"v1": p.url}).model_copy(update={"auth_required": True})
    async with serve(config, Settings(tokens_file=str(secret))) as client:
        denied = await client.post("/v2/models/m/infer", json=v2([1.0]))
        assert denied.status_code == 401
        assert denied.headers["www-authenticate"] == "Bearer"
        assert "missing" in denied.json()["error"]
        assert (await client.get("/rollouts/m/report")).status_code == 401
        assert (await client.get("/v2/models/m")).status_code == 401
        wrong = await client.post("/v2/models/m/infer", json=v2([1.0]), headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401 and p.state.calls == 0
        ok = await client.post("/v2/models/m/infer", json=v2([1.0]), headers={"authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert (await client.get("/v2/health/live")).status_code == 200
        assert (await client.get("/v2/health/ready")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200
