"""The V2 infer route answered in front of KServe's app: limits, paths and answers as before."""

import httpx
import orjson

from tests.runtime.modelserver.test_server import with_input


def url(server, path):
    return f"{server.url}{path}"


def test_a_streamed_body_without_length_is_refused_once_over_the_limit(batched_server):
    def chunks():
        for _ in range(30):  # 30 x 10 kB, past the 200 kB limit, with no Content-Length
            yield b" " * 10_000

    response = httpx.post(url(batched_server, "/v2/models/fraud/infer"), content=chunks(), timeout=10)
    assert response.status_code == 413
    assert response.json()["error"].endswith(
        "or more is over the limit of 200000 bytes (--max_body_bytes); send fewer rows per request"
    )
    assert httpx.post(url(batched_server, "/v2/models/fraud/infer"), json=with_input(), timeout=10).status_code == 200


def test_the_versioned_path_answers_like_the_plain_one_and_other_routes_still_reach_kserve(batched_server):
    body = orjson.dumps(with_input())
    plain = httpx.post(url(batched_server, "/v2/models/fraud/infer"), content=body, timeout=10)
    versioned = httpx.post(url(batched_server, "/v2/models/fraud/versions/1/infer"), content=body, timeout=10)
    assert plain.status_code == versioned.status_code == 200
    assert versioned.json()["outputs"] == plain.json()["outputs"]
    assert plain.headers["content-type"] == "application/json"
    assert int(plain.headers["content-length"]) == len(plain.content)
    # Not an infer POST: KServe's routes answer (readiness), or refuse the method as before.
    assert httpx.get(url(batched_server, "/v2/models/fraud/ready")).status_code == 200
    assert httpx.get(url(batched_server, "/v2/models/fraud/infer")).status_code == 405


def test_an_unknown_model_on_the_versioned_path_is_404_naming_what_is_served(batched_server):
    response = httpx.post(url(batched_server, "/v2/models/nope/versions/1/infer"), json=with_input(), timeout=10)
    assert response.status_code == 404
    assert response.json() == {"error": "model 'nope' is not served here; served models: fraud"}
