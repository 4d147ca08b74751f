"""The model server's batch queue drops a request whose caller has stopped waiting.

A caller's time comes as Triton's ``parameters.timeout`` (microseconds) or as the gateway's
``x-ml-serving-timeout-ms`` header on each call it sends; a request still queued past it is
answered 503 and never predicted, as Triton's dynamic batcher does.
"""

import httpx
import pytest

from runtime.protocol.deadline import TIMEOUT_HEADER
from tests.runtime.modelserver.test_server import infer, with_input


def expired(server) -> float:
    for line in httpx.get(f"{server.url}/metrics", timeout=10).text.splitlines():
        if line.startswith('ml_serving_batch_expired_total{model="fraud"}'):
            return float(line.split()[-1])
    return 0.0


@pytest.mark.parametrize(
    ("headers", "parameters"),
    [({TIMEOUT_HEADER: "0"}, None), (None, {"timeout": 1})],
    ids=["gateway header of 0 ms", "Triton timeout of 1 us"],
)
def test_a_request_out_of_time_before_its_predict_is_a_503_and_not_predicted(batched_server, headers, parameters):
    before = expired(batched_server)
    body = with_input() | ({"parameters": parameters} if parameters else {})
    response = infer(batched_server, body, headers=headers)
    assert response.status_code == 503, response.text
    assert "timeout ran out" in response.json()["error"] and "it was not predicted" in response.json()["error"]
    assert expired(batched_server) == before + 1


def test_a_request_within_its_time_is_answered(batched_server):
    body = with_input() | {"parameters": {"timeout": 5_000_000}}
    response = infer(batched_server, body, headers={TIMEOUT_HEADER: "5000.0"})
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["shape"] == [1]  # one row in, one prediction out


@pytest.mark.parametrize(
    ("headers", "parameters", "named"),
    [
        ({TIMEOUT_HEADER: "soon"}, None, TIMEOUT_HEADER),
        ({TIMEOUT_HEADER: "-5"}, None, TIMEOUT_HEADER),
        (None, {"timeout": "1000"}, "parameters.timeout"),
        (None, {"timeout": -1}, "parameters.timeout"),
    ],
)
def test_a_timeout_that_is_not_a_duration_is_a_400_naming_it(batched_server, headers, parameters, named):
    body = with_input() | ({"parameters": parameters} if parameters else {})
    response = infer(batched_server, body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith(named), response.json()
