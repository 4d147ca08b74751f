from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection

from runtime.gateway.headers import REQUEST_ID, forward_headers, request_id
from tests.runtime.gateway.conftest import gateway_config, model_spec, serve, v2


def test_only_allowlisted_headers_are_forwarded():
    incoming = {
        "Authorization": "Bearer t",
        "traceparent": "00-abc-def-01",
        "Cookie": "session=1",
        "X-User-Id": "u1",
        "Host": "gateway",
        "x-b3-traceid": "abc",
    }
    out = forward_headers(incoming, "rid-1")
    assert out == {
        "traceparent": "00-abc-def-01",
        "x-b3-traceid": "abc",
        REQUEST_ID: "rid-1",
        "content-type": "application/json",
    }


def test_request_id_is_kept_or_made():
    assert request_id({REQUEST_ID: "abc"}) == "abc"
    made = {request_id({}) for _ in range(3)}
    assert len(made) == 3 and all(len(r) == 32 for r in made)


def _made_in_child(out: Connection) -> None:
    out.send([request_id({}) for _ in range(100)])


def test_a_forked_process_makes_request_ids_of_its_own():
    # Ids come from the process's random generator: a forked worker must not repeat its parent's.
    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe(duplex=False)
    child = context.Process(target=_made_in_child, args=(theirs,))
    child.start()
    try:
        made_there = ours.recv() if ours.poll(30) else None
    finally:
        child.join(30)
    made_here = [request_id({}) for _ in range(100)]
    assert made_there is not None, "the child sent no ids"
    assert not set(made_here) & set(made_there)
    assert all(len(r) == 32 and int(r, 16) >= 0 for r in made_here + made_there)


async def test_request_id_reaches_the_model_server_and_the_client(peer):
    p = peer()
    config = gateway_config(
        model_spec(variants=[{"model": "models:/m/1", "role": "primary", "weight": 100}]), {"v1": p.url}
    )
    async with serve(config) as client:
        response = await client.post(
            "/v2/models/m/infer", json=v2([1.0]), headers={"x-request-id": "r-42", "cookie": "c=1"}
        )
    assert response.headers["x-request-id"] == "r-42"
    assert p.state.headers[-1]["x-request-id"] == "r-42"
    assert "cookie" not in p.state.headers[-1]


async def test_the_gateways_bearer_token_never_reaches_a_model_server(peer, monkeypatch):
    monkeypatch.setenv("ML_SERVING_GATEWAY_TOKENS", "s3cret-token")
    p = peer()
    spec = model_spec(variants=[{"model": "models:/m/1", "role": "primary", "weight": 100}])
    config = gateway_config(spec, {"v1": p.url}).model_copy(update={"auth_required": True})
    async with serve(config) as client:
        response = await client.post(
            "/v2/models/m/infer", json=v2([1.0]), headers={"authorization": "Bearer s3cret-token"}
        )
    assert response.status_code == 200, response.text
    assert p.state.headers, "the model server saw no request"
    assert all("s3cret-token" not in " ".join(h.values()) for h in p.state.headers)
