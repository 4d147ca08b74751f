from __future__ import annotations

import json

from runtime.local.traffic import curl_example, drifted_rows, normal_rows, v2_request
from runtime.protocol import decode_inputs, parse_request


def test_v2_request_round_trips_through_the_codec() -> None:
    frame = normal_rows(4, seed=1)
    body = v2_request(frame, request_id="abc")
    assert body["id"] == "abc"
    types = {i["name"]: i["datatype"] for i in body["inputs"]}
    assert types == {
        "amount": "FP64",
        "hour": "INT64",
        "merchant_category": "BYTES",
        "distance_km": "FP64",
        "card_age_days": "INT64",
        "foreign": "BOOL",
        "txn_last_24h": "INT64",
    }
    columns = decode_inputs(parse_request(json.dumps(body)))
    assert columns["amount"].tolist() == frame["amount"].tolist()
    assert columns["merchant_category"].tolist() == frame["merchant_category"].tolist()


def test_drifted_traffic_is_shifted_where_a_fraud_wave_would_be() -> None:
    normal, drifted = normal_rows(5000, seed=3), drifted_rows(5000, seed=3)
    assert drifted["amount"].median() > 2.5 * normal["amount"].median()
    assert drifted["foreign"].mean() > 4 * normal["foreign"].mean()
    assert (drifted["merchant_category"] == normal["merchant_category"]).all()


def test_curl_example_is_a_complete_command() -> None:
    command = curl_example("http://127.0.0.1:8080", "fraud", token_file="/s/gateway-token")
    assert command.startswith('curl -s -H "Authorization: Bearer $(cat /s/gateway-token)"')
    assert "http://127.0.0.1:8080/v2/models/fraud/infer" in command
    body = json.loads(command.split(" -d '", 1)[1].rstrip("'"))
    assert {i["name"] for i in body["inputs"]} >= {"amount", "merchant_category"}
