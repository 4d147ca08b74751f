import time

import httpx
import pytest

from runtime.drift.app import CLOUDEVENTS_PATH, create_app
from runtime.drift.cloudevents import REQUEST_TYPE, RESPONSE_TYPE
from runtime.drift.settings import MonitorSettings
from runtime.wiring import INGEST_PATH

from .conftest import AUTH, columns, make_rows, monitor_config, predict, settings


@pytest.fixture
def profile_path(reference, tmp_path):
    return str(reference.save(tmp_path))


@pytest.fixture
async def client(profile_path, tmp_path):
    app = create_app(monitor_config(str(tmp_path / "state"), profile_path), settings(persist_interval_s=0))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://monitor", headers=AUTH) as c:
            yield c


def tap(rows, variant="v3", request_id="r", outputs=True) -> dict:
    record = {
        "model": "fraud",
        "variant": variant,
        "requestId": request_id,
        "timestamp": time.time(),
        "inputs": columns(rows),
    }
    if outputs:
        record["outputs"] = {"predict": predict(rows).tolist()}
    return {"records": [record]}


async def test_tap_batches_fill_windows_and_export_metrics(client):
    for i in range(3):
        response = await client.post(INGEST_PATH, json=tap(make_rows(500, seed=i, shift=1.0), request_id=f"r{i}"))
        assert response.status_code == 202 and response.json() == {"rows": 500}
    status = (await client.get("/status/fraud")).json()["variants"]
    assert status["v3"]["rows_seen"] == 1_500 and status["v3"]["windows"] == 1 and status["v3"]["window_rows"] == 500
    last = status["v3"]["last"]
    assert last["dataset_drifted"] and {f["name"] for f in last["features"] if f["drifted"]} >= {"amount"}
    assert [p["name"] for p in last["predictions"]] == ["fraud"]  # the single output is matched by position
    text = (await client.get("/metrics")).text
    assert 'ml_serving_drift_rows_total{model="fraud",variant="v3"} 1500.0' in text
    assert 'ml_serving_drift_dataset_drifted{model="fraud",variant="v3"} 1.0' in text
    assert 'ml_serving_drift_feature_drifted{feature="amount",model="fraud",test="ks",variant="v3"} 1.0' in text
    assert 'ml_serving_drift_window_fill_rows{model="fraud",variant="v3"} 500.0' in text


async def test_canary_without_its_own_profile_uses_the_primary_one(client):
    response = await client.post(INGEST_PATH, json=tap(make_rows(1_000, seed=9), variant="v4"))
    assert response.status_code == 202
    status = (await client.get("/status/fraud")).json()["variants"]
    assert status["v4"]["windows"] == 1 and status["v3"]["rows_seen"] == 0


async def test_a_malformed_batch_gets_a_clear_error(client):
    response = await client.post(INGEST_PATH, json={"records": [{"model": "fraud"}]})
    assert response.status_code == 400
    assert "records[0].variant: required key is missing" in response.json()["error"]


async def test_each_record_stands_alone_and_the_ones_not_counted_are_counted(client):
    """The gateway taps every model: one record of an unmonitored model (or a bad one) must not
    cost the monitored records of the same batch."""
    good = tap(make_rows(300, seed=1), request_id="good")["records"][0]
    body = {
        "records": [
            {"model": "nope", "variant": "v3", "requestId": "a", "timestamp": 0, "inputs": {"x": [1.0]}},
            good,
            {"model": "fraud", "variant": "v9", "requestId": "b", "timestamp": 0, "inputs": {}},
            {
                "model": "fraud",
                "variant": "v3",
                "requestId": "c",
                "timestamp": 0,
                "inputs": {"amount": [1.0, 2.0], "score": [0.5]},
            },
        ]
    }
    response = await client.post(INGEST_PATH, json=body)
    assert response.status_code == 202
    answer = response.json()
    assert answer["rows"] == 300 and answer["skipped"] == {"unmonitored": 2, "invalid": 1}
    assert "model 'nope' is not monitored; monitored models: fraud" in answer["errors"]
    assert "variant 'v9' of model 'fraud' is unknown; variants: v3, v4" in answer["errors"]
    assert any(e.startswith("records[3]: inputs and outputs") for e in answer["errors"])
    assert (await client.get("/status/fraud")).json()["variants"]["v3"]["rows_seen"] == 300
    text = (await client.get("/metrics")).text
    assert 'ml_serving_drift_records_skipped_total{model="nope",reason="unmonitored"} 1.0' in text
    assert 'ml_serving_drift_records_skipped_total{model="fraud",reason="unmonitored"} 1.0' in text
    assert 'ml_serving_drift_records_skipped_total{model="fraud",reason="invalid"} 1.0' in text


async def test_kserve_logger_cloudevents_feed_the_same_windows(client):
    rows = make_rows(1_000, seed=3)
    v2 = {
        "inputs": [
            {"name": n, "shape": [1_000], "datatype": "BYTES" if n == "country" else "FP64", "data": v}
            for n, v in columns(rows).items()
        ]
    }
    headers = {
        "ce-type": REQUEST_TYPE,
        "ce-id": "abc",
        "ce-inferenceservicename": "fraud-v4",
        "ce-specversion": "1.0",
        "ce-source": "http://fraud-v4",
    }
    response = await client.post(CLOUDEVENTS_PATH, json=v2, headers=headers)
    assert response.status_code == 202 and response.json() == {"rows": 1_000}
    outputs = {
        "outputs": [{"name": "predict", "shape": [1_000, 1], "datatype": "INT64", "data": predict(rows).tolist()}]
    }
    response = await client.post(
        CLOUDEVENTS_PATH + "?model=fraud&variant=v3", json=outputs, headers={**headers, "ce-type": RESPONSE_TYPE}
    )
    assert response.status_code == 202
    status = (await client.get("/status/fraud")).json()["variants"]
    assert status["v4"]["windows"] == 1 and not status["v4"]["last"]["dataset_drifted"]
    bad = await client.post(CLOUDEVENTS_PATH, json=v2, headers={**headers, "ce-type": "com.example.other"})
    assert bad.status_code == 400 and "ce-type: expected" in bad.json()["error"]
    unknown = await client.post(CLOUDEVENTS_PATH, json=v2, headers={**headers, "ce-inferenceservicename": "x"})
    assert unknown.status_code == 404 and "?model=&variant=" in unknown.json()["error"]


async def test_delayed_labels_give_accuracy_and_precision_per_variant(client):
    rows = make_rows(1, seed=1)
    for i, (pred, _label) in enumerate([(1, 1), (1, 0), (0, 0), (0, 0)]):
        body = tap(rows, request_id=f"q{i}", outputs=False)
        body["records"][0]["outputs"] = {"predict": [pred]}
        assert (await client.post(INGEST_PATH, json=body)).status_code == 202
    labels = [{"requestId": f"q{i}", "label": label} for i, label in enumerate([1, 0, 0, 0])]
    response = await client.post("/labels/fraud", json={"labels": [*labels, {"requestId": "zz", "label": 1}]})
    assert response.json() == {"matched": 4, "unknown": ["zz"]}
    series = (await client.get("/labels/fraud")).json()["variants"]["v3"]
    assert series[-1]["accuracy"] == pytest.approx(0.75) and series[-1]["precision"] == pytest.approx(0.5)
    text = (await client.get("/metrics")).text
    assert 'ml_serving_drift_label_accuracy{model="fraud",variant="v3"} 0.75' in text
    assert (await client.post("/labels/fraud", json={"labels": []})).status_code == 400


async def test_report_shows_plots_tests_and_verdicts(client):
    rows = make_rows(1_000, seed=4)
    rows.loc[rows.index[:100], "country"] = "mars"
    await client.post(INGEST_PATH, json=tap(rows))
    response = await client.get("/report/fraud")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert html.count("<svg") == 6 and "<td>country</td><td>chi2</td>" in html  # history + 5 columns
    assert "window 1: " in html
    assert "__unseen__: 10.0%" in html  # the new category's share in the last window
    assert "<th>missing</th><th>new categories</th>" in html
    country = next(line for line in html.split("<tr>") if line.startswith("<td>country</td>"))
    assert "<td>10.00%, p " in country and "drift</span> (new categories)" in country, country
    assert "No window has closed yet." in html  # v4
    assert (await client.get("/report/nope")).status_code == 404
    assert (await client.get("/healthz")).json() == {"status": "ok", "variants": 2}


def test_bad_profile_location_is_a_clear_error(tmp_path):
    from runtime.drift.profile import ProfileError

    with pytest.raises(ProfileError, match="cannot read"):
        create_app(monitor_config(str(tmp_path), str(tmp_path / "missing.json")), settings())


async def test_records_with_different_columns_are_aligned_by_row(client):
    rows = make_rows(500, seed=5)
    first = tap(rows, request_id="a", outputs=False)["records"][0]
    second = tap(rows, request_id="b")["records"][0]
    del second["inputs"]["score"]
    response = await client.post(INGEST_PATH, json={"records": [first, second]})
    assert response.status_code == 202 and response.json() == {"rows": 1_000}
    last = (await client.get("/status/fraud")).json()["variants"]["v3"]["last"]
    rows_of = {f["name"]: f["rows"] for f in last["features"] + last["predictions"]}
    assert rows_of == {"amount": 1_000, "tenure": 1_000, "score": 500, "country": 1_000, "fraud": 500}


async def test_writers_and_readers_need_the_token_and_probes_do_not(profile_path, tmp_path):
    app = create_app(monitor_config(str(tmp_path / "state"), profile_path), settings())
    rows = tap(make_rows(10, seed=1))
    calls = [
        ("POST", INGEST_PATH, rows),
        ("POST", CLOUDEVENTS_PATH, {}),
        ("POST", "/labels/fraud", {"labels": [{"requestId": "r", "label": 1}]}),
        ("GET", "/labels/fraud", None),
        ("GET", "/status/fraud", None),
        ("GET", "/report/fraud", None),
    ]
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://monitor") as anyone:
            for method, path, body in calls:
                for headers, expected in (
                    ({}, "missing 'Authorization: Bearer <token>' header"),
                    ({"authorization": "Bearer forged"}, "invalid bearer token"),
                ):
                    response = await anyone.request(method, path, json=body, headers=headers)
                    assert response.status_code == 401, (method, path, response.text)
                    assert response.json() == {"error": expected}
            assert (await anyone.get("/healthz")).status_code == 200
            assert (await anyone.get("/metrics")).status_code == 200
            status = (await anyone.get("/status/fraud", headers=AUTH)).json()
    assert status["variants"]["v3"]["rows_seen"] == 0, "nothing forged got in"


def test_a_monitor_without_tokens_refuses_to_start(profile_path, tmp_path):
    from runtime.errors import MLServingError

    with pytest.raises(MLServingError, match="set ML_SERVING_DRIFT_TOKENS or ML_SERVING_DRIFT_TOKENS_FILE"):
        create_app(monitor_config(str(tmp_path / "state"), profile_path), MonitorSettings())


async def test_bodies_over_the_limit_get_413_unread(profile_path, tmp_path):
    app = create_app(monitor_config(str(tmp_path / "state"), profile_path), settings(max_body_bytes=4_096))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://monitor", headers=AUTH) as c:
            big = tap(make_rows(200, seed=2))
            response = await c.post(INGEST_PATH, json=big)
            assert response.status_code == 413 and "over the limit of 4096 bytes" in response.json()["error"]

            async def chunks():  # no content-length: counted while it streams
                for _ in range(10):
                    yield b" " * 1_000

            response = await c.post("/labels/fraud", content=chunks(), headers={"content-type": "application/json"})
            assert response.status_code == 413
            assert (await c.post(INGEST_PATH, json=tap(make_rows(5, seed=3)))).status_code == 202
