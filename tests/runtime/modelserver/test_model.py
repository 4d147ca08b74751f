import asyncio

import httpx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.errors import ModelNotFound
from runtime.modelserver.model import resolve_model_dir
from tests.runtime.modelserver.servers import features, v2_columns


async def post_all(server, bodies):
    async with httpx.AsyncClient(base_url=server.url, timeout=30, limits=httpx.Limits(max_connections=64)) as client:
        responses = await asyncio.gather(*(client.post("/v2/models/fraud/infer", json=b) for b in bodies))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
    return [r.json() for r in responses]


def batch_counts(server) -> tuple[float, float]:
    """(predict calls, requests served by them) so far, from /metrics."""
    values = {}
    for line in httpx.get(f"{server.url}/metrics").text.splitlines():
        for metric in ("ml_serving_batch_requests_count", "ml_serving_batch_requests_sum"):
            if line.startswith(metric + '{model="fraud"}'):
                values[metric] = float(line.split()[-1])
    return values.get("ml_serving_batch_requests_count", 0.0), values.get("ml_serving_batch_requests_sum", 0.0)


def test_single_request_equals_the_models_own_predict(batched_server, own_model):
    rows = features(5, seed=11)
    (answer,) = asyncio.run(post_all(batched_server, [v2_columns(rows)]))
    np.testing.assert_array_equal(answer["outputs"][0]["data"], own_model.predict(rows))


def test_one_two_dimensional_tensor_equals_one_tensor_per_column(batched_server, own_model):
    rows = features(4, seed=12).astype("float64")
    body = {"inputs": [{"name": "rows", "datatype": "FP64", "shape": [4, 3], "data": rows.to_numpy().tolist()}]}
    (answer,) = asyncio.run(post_all(batched_server, [body]))
    np.testing.assert_array_equal(answer["outputs"][0]["data"], own_model.predict(rows.astype({"count": "int64"})))


def test_concurrent_requests_are_batched_and_each_equals_its_own_predict(batched_server, own_model):
    calls_before, served_before = batch_counts(batched_server)
    frames = [features(1, seed=100 + i) for i in range(48)]
    answers = asyncio.run(post_all(batched_server, [v2_columns(f, request_id=str(i)) for i, f in enumerate(frames)]))
    for i, (frame, answer) in enumerate(zip(frames, answers)):
        assert answer["id"] == str(i)
        np.testing.assert_array_equal(answer["outputs"][0]["data"], own_model.predict(frame))
    calls, served = batch_counts(batched_server)
    assert served - served_before == 48
    assert calls - calls_before < 48, "no two requests ever shared a predict call"


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(min_value=1, max_value=12), min_size=2, max_size=40), seed=st.integers(0, 10_000))
def test_batching_never_mixes_rows_between_requests(batched_server, own_model, sizes, seed):
    frames = [features(size, seed=seed + i) for i, size in enumerate(sizes)]
    answers = asyncio.run(post_all(batched_server, [v2_columns(f) for f in frames]))
    expected = own_model.predict(pd.concat(frames, ignore_index=True))
    start = 0
    for frame, answer in zip(frames, answers):
        assert answer["outputs"][0]["shape"] == [len(frame)]
        np.testing.assert_array_equal(answer["outputs"][0]["data"], expected[start : start + len(frame)])
        start += len(frame)


def test_a_model_folder_or_one_subfolder_resolves(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "MLmodel").write_text("flavors: {}\n")
    assert resolve_model_dir(str(tmp_path)) == (str(tmp_path / "model"), None)
    assert resolve_model_dir(str(tmp_path / "model")) == (str(tmp_path / "model"), None)
    assert resolve_model_dir("models:/fraud/7") == ("models:/fraud/7", "7")
    with pytest.raises(ModelNotFound, match="no MLflow model in"):
        resolve_model_dir(str(tmp_path / "missing"))


def test_in_process_v2_and_kserve_entries_agree_with_the_model(tmp_path):
    import warnings

    import mlflow.sklearn
    from kserve import InferInput, InferRequest
    from mlflow.models import infer_signature
    from sklearn.linear_model import LinearRegression

    from runtime.modelserver.model import MLflowModel
    from runtime.protocol import parse_request

    data = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    regression = LinearRegression().fit(data, data["a"] * 2 + data["b"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.sklearn.save_model(
            regression, str(tmp_path / "lin"), signature=infer_signature(data, regression.predict(data))
        )
    model = MLflowModel("lin", str(tmp_path))
    assert model.load() and model.ready
    assert [t["name"] for t in model.get_input_types()] == ["a", "b"]
    body = {
        "id": "x",
        "inputs": [{"name": n, "datatype": "FP64", "shape": [2], "data": [5.0, 6.0]} for n in ("a", "b")],
    }
    expected = regression.predict(pd.DataFrame({"a": [5.0, 6.0], "b": [5.0, 6.0]}))

    async def both():
        v2 = await model.infer(parse_request(body))
        inputs = [InferInput(name=n, shape=[2], datatype="FP64", data=[5.0, 6.0]) for n in ("a", "b")]
        native = await model.predict(InferRequest(model_name="lin", infer_inputs=inputs, request_id="x"))
        await model.drain()
        return v2, native

    v2, native = asyncio.run(both())
    np.testing.assert_allclose(v2.outputs[0].data, expected)
    np.testing.assert_allclose(native.outputs[0].data, expected)
    assert v2.id == "x" and not model.ready


@pytest.mark.parametrize(
    "columns",
    [
        {"a": np.array([0.5, 1.5]), "b": np.array([2.0, -1.0]), "c": np.array([np.nan, 3.0])},
        {"a": np.array([1, 2], dtype=np.int32), "b": np.array([3, 4], dtype=np.int32)},
        {"a": np.array([True, False]), "b": np.array([False, False])},
        {"a": np.array([0.5, 1.5]), "b": np.array([1, 2])},  # mixed: a block each
        {"a": np.array(["x", "y"], dtype=object), "b": np.array(["z", "w"], dtype=object)},
        {"only": np.array([7.0, 8.0, 9.0])},
    ],
    ids=["floats", "int32", "bool", "mixed", "strings", "one"],
)
def test_a_batch_frame_equals_the_frame_of_its_columns(columns):
    from runtime.modelserver.model import columns_frame

    frame = columns_frame(columns)
    pd.testing.assert_frame_equal(frame, pd.DataFrame(columns))
    if len({a.dtype for a in columns.values()}) == 1 and next(iter(columns.values())).dtype.kind != "O":
        # One block: the model reads it back as one array, without copying the columns together.
        values = frame.to_numpy()
        assert np.shares_memory(values, frame[next(iter(columns))].to_numpy())
