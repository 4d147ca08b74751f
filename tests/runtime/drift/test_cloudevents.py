import json
import re

import pytest

from runtime.drift.cloudevents import REQUEST_TYPE, RESPONSE_TYPE, parse_event
from runtime.errors import InvalidInput


def test_binary_mode_v1_request():
    headers = {"ce-type": REQUEST_TYPE, "ce-id": "42", "ce-inferenceservicename": "fraud", "ce-endpoint": "canary"}
    body = json.dumps({"instances": [{"amount": 1.0, "country": "fr"}, {"amount": 2.0}]}).encode()
    event = parse_event(headers, body)
    assert (event.id, event.inference_service, event.endpoint) == ("42", "fraud", "canary")
    assert event.columns == {"amount": [1.0, 2.0], "country": ["fr", None]}


def test_structured_mode_v2_response():
    body = {
        "specversion": "1.0",
        "type": RESPONSE_TYPE,
        "id": "7",
        "source": "x",
        "data": {"outputs": [{"name": "p", "shape": [2, 1], "datatype": "FP32", "data": [[0.1], [0.9]]}]},
    }
    event = parse_event({"content-type": "application/cloudevents+json"}, json.dumps(body).encode())
    assert event.type == RESPONSE_TYPE and event.columns == {"p": [0.1, 0.9]}


@pytest.mark.parametrize(
    ("headers", "body", "message"),
    [
        ({"ce-type": REQUEST_TYPE, "ce-id": "1"}, b"{", "body: not valid JSON"),
        ({"ce-type": REQUEST_TYPE}, b"{}", "ce-id: missing"),
        ({"ce-type": REQUEST_TYPE, "ce-id": "1"}, b'{"rows": []}', "expected 'inputs' (V2) or 'instances' (V1)"),
    ],
)
def test_bad_events_are_named(headers, body, message):
    with pytest.raises(InvalidInput, match=re.escape(message)):
        parse_event(headers, body)


def test_matrices_arrive_as_one_list_per_row():
    """V2 [n, k] tensors (flat or nested) and V1 row lists: the monitor splits them by the profile."""
    headers = {"ce-type": REQUEST_TYPE, "ce-id": "1"}
    flat = b'{"inputs": [{"name": "x", "shape": [2, 3], "data": [1, 2, 3, 4, 5, 6]}]}'
    assert parse_event(headers, flat).columns == {"x": [[1, 2, 3], [4, 5, 6]]}
    nested = b'{"inputs": [{"name": "x", "shape": [2, 3], "data": [[1, 2, 3], [4, 5, 6]]}]}'
    assert parse_event(headers, nested).columns == {"x": [[1, 2, 3], [4, 5, 6]]}
    v1 = b'{"instances": [[1, 2, 3], [4, 5, 6]]}'
    assert parse_event(headers, v1).columns == {"instances": [[1, 2, 3], [4, 5, 6]]}
