"""The gateway's gRPC transport over the same policy core, driven by KServe's gRPC client.

tritonclient.grpc cannot share a process with KServe (both register the ``inference`` proto
package); it drives the gateway process in tests/conformance.
"""

from __future__ import annotations

import asyncio
import time

import grpc
import numpy as np
import pytest
from kserve import InferenceGRPCClient, InferInput, InferRequest
from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc as pb_grpc

from runtime.gateway import Settings
from tests.runtime.gateway.conftest import gateway_config, model_spec, primary_and_canary, serve, wait_for
from tests.runtime.gateway.test_tap import Receiver

ONE = [{"model": "models:/m/1", "role": "primary", "weight": 100}]


def request(array: np.ndarray, datatype: str = "FP32", name: str = "x", model: str = "m", **kwargs) -> InferRequest:
    t = InferInput(name, list(array.shape), datatype)
    t.set_data_from_numpy(array, binary_data=True)
    return InferRequest(model_name=model, infer_inputs=[t], **kwargs)


def grpc_client(port: int) -> InferenceGRPCClient:
    return InferenceGRPCClient(f"127.0.0.1:{port}", channel_args=[("grpc.enable_retries", 0)])


def one_row() -> pb.ModelInferRequest:
    """A raw ``ModelInfer`` message of one FP32 row holding 1.0."""
    return pb.ModelInferRequest(
        model_name="m",
        inputs=[pb.ModelInferRequest.InferInputTensor(name="x", datatype="FP32", shape=[1, 1])],
        raw_input_contents=[np.ones(1, dtype=np.float32).tobytes()],
    )


def output(response, name: str = "predict") -> list:
    return next(o for o in response.outputs if o.name == name).as_numpy().tolist()


async def test_infer_routes_answers_and_echoes_the_request_id(peer):
    p = peer()
    config = gateway_config(model_spec(variants=ONE), {"v1": p.url})
    async with serve(config, Settings(grpc_port=0)) as client:
        port = client.app.state.grpc_port
        async with grpc_client(port) as g:
            assert await g.is_server_live() and await g.is_server_ready() and await g.is_model_ready("m")
            response = await g.infer(request(np.arange(6, dtype=np.float32).reshape(3, 2), request_id="g-1"))
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            metadata = await pb_grpc.GRPCInferenceServiceStub(channel).ModelMetadata(pb.ModelMetadataRequest(name="m"))
    assert output(response) == [1.0, 5.0, 9.0]
    assert (response.id, response.model_name, response.model_version) == ("g-1", "m", "v1")
    assert metadata.name == "m" and list(metadata.versions) == ["v1"] and metadata.inputs[0].name == "x"
    assert p.state.headers[-1]["x-request-id"] == "g-1", "the request id went upstream as REST's does"


async def test_variant_and_fallback_reason_come_back_as_trailing_metadata():
    config = gateway_config(model_spec(variants=ONE, fallback={"value": 3}), {"v1": "http://127.0.0.1:9"})
    async with serve(config, Settings(grpc_port=0)) as client:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{client.app.state.grpc_port}") as channel:
            stub = pb_grpc.GRPCInferenceServiceStub(channel)
            request = pb.ModelInferRequest(
                model_name="m",
                inputs=[
                    pb.ModelInferRequest.InferInputTensor(
                        name="x", datatype="FP64", shape=[2], contents=pb.InferTensorContents(fp64_contents=[1, 2])
                    )
                ],
            )
            call = stub.ModelInfer(request, metadata=(("x-request-id", "f-1"),))
            response = await call
            trailing = dict(await call.trailing_metadata())
    assert trailing["x-ml-serving-variant"] == "fallback" and trailing["x-ml-serving-fallback"] == "connect"
    assert trailing["x-request-id"] == "f-1" and response.id == "f-1"
    assert np.frombuffer(response.raw_output_contents[0], dtype=np.int64).tolist() == [3, 3]


async def test_sticky_header_in_metadata_routes_as_over_rest(peer):
    a, b = peer(offset=0.0), peer(offset=100.0)
    spec = model_spec(routing={"policy": {"type": "sticky", "header": "x-user"}}, latencyBudgetMs=2000)
    async with serve(gateway_config(spec, {"v1": a.url, "v2": b.url}), Settings(grpc_port=0)) as http:
        async with grpc_client(http.app.state.grpc_port) as g:
            for user in range(10):
                rest = await http.post(
                    "/v2/models/m/infer",
                    json={"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1.0]}]},
                    headers={"x-user": f"u{user}"},
                )
                answer = await g.infer(request(np.ones(1, dtype=np.float32)), headers=(("x-user", f"u{user}"),))
                assert answer.model_version == rest.headers["x-ml-serving-variant"], user


async def test_an_unknown_model_is_not_found_with_the_rest_message_and_fp16_goes_raw(peer):
    p = peer()
    config = gateway_config(model_spec(variants=ONE), {"v1": p.url})
    async with serve(config, Settings(grpc_port=0)) as http:
        async with grpc_client(http.app.state.grpc_port) as g:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await g.infer(request(np.ones(1, dtype=np.float32), model="nope"))
            half = await g.infer(request(np.array([0.5, 1.5], dtype=np.float16), "FP16"))
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND
    assert caught.value.details() == "model 'nope' is not served by this gateway; served models: m"
    assert output(half) == [0.5, 1.5]


async def test_bad_input_and_missing_token_are_refused_before_any_upstream_call(peer):
    p = peer()
    config = gateway_config(model_spec(variants=ONE), {"v1": p.url}).model_copy(update={"auth_required": True})
    async with serve(config, Settings(grpc_port=0, tokens="s3cret")) as client:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{client.app.state.grpc_port}") as channel:
            stub = pb_grpc.GRPCInferenceServiceStub(channel)
            short = pb.ModelInferRequest(
                model_name="m",
                inputs=[pb.ModelInferRequest.InferInputTensor(name="x", datatype="FP32", shape=[2])],
                raw_input_contents=[b"\0" * 4],
            )
            with pytest.raises(grpc.aio.AioRpcError) as unauthenticated:
                await stub.ModelInfer(short)
            with pytest.raises(grpc.aio.AioRpcError) as invalid:
                await stub.ModelInfer(short, metadata=(("authorization", "Bearer s3cret"),))
    assert unauthenticated.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert unauthenticated.value.details() == "missing 'Authorization: Bearer <token>' header"
    assert invalid.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert invalid.value.details() == "Input 'x': 4 bytes of binary data; shape [2] of FP32 needs 8"
    assert p.state.calls == 0


async def test_concurrent_grpc_calls_are_coalesced_and_get_their_own_rows(peer):
    p = peer(mode="slow", delay_s=0.02)
    config = gateway_config(model_spec(variants=ONE, latencyBudgetMs=5000), {"v1": p.url})
    arrays = [np.full((1, 2), float(i), dtype=np.float32) for i in range(40)]
    async with serve(config, Settings(grpc_port=0)) as http:
        async with grpc_client(http.app.state.grpc_port) as g:
            results = await asyncio.gather(*(g.infer(request(a, request_id="")) for a in arrays))
    assert [output(r) for r in results] == [[2.0 * i] for i in range(40)]
    assert p.state.calls < len(arrays) / 2, f"{p.state.calls} upstream calls for {len(arrays)} requests"


async def test_a_failing_canary_is_retried_on_the_primary_until_its_breaker_opens(peer):
    primary, canary = peer(), peer(mode="fail")
    spec = model_spec(
        variants=primary_and_canary(100),
        circuitBreaker={"failureThreshold": 3, "cooldownMs": 60_000},
    )
    async with serve(gateway_config(spec, {"v1": primary.url, "v2": canary.url}), Settings(grpc_port=0)) as http:
        async with grpc_client(http.app.state.grpc_port) as g:
            answers = [await g.infer(request(np.ones((1, 2), dtype=np.float32))) for _ in range(8)]
    assert [a.model_version for a in answers] == ["v1"] * 8 and [output(a) for a in answers] == [[2.0]] * 8
    assert canary.state.calls == 3, "the open breaker should have stopped calls to the canary"
    assert primary.state.calls == 8


async def test_a_hanging_model_falls_back_within_the_budget(peer):
    hanging = peer(mode="hang", hang_s=3.0)
    spec = model_spec(variants=ONE, latencyBudgetMs=80, fallback={"value": 0})
    async with serve(gateway_config(spec, {"v1": hanging.url}), Settings(grpc_port=0)) as http:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{http.app.state.grpc_port}") as channel:
            stub = pb_grpc.GRPCInferenceServiceStub(channel)
            message = one_row()
            t0 = time.monotonic()
            call = stub.ModelInfer(message, timeout=5)
            response = await call
            elapsed_ms = (time.monotonic() - t0) * 1000
            trailing = dict(await call.trailing_metadata())
    assert trailing["x-ml-serving-fallback"] == "timeout" and trailing["x-ml-serving-variant"] == "fallback"
    assert np.frombuffer(response.raw_output_contents[0], dtype=np.int64).tolist() == [0]
    assert elapsed_ms < 80 + 400, f"the fallback took {elapsed_ms:.0f} ms against a budget of 80 ms"


async def test_the_sticky_key_is_read_from_an_input_as_over_rest(peer):
    a, b = peer(offset=0.0), peer(offset=100.0)
    spec = model_spec(routing={"policy": {"type": "sticky", "input": "user"}}, latencyBudgetMs=2000)
    async with serve(gateway_config(spec, {"v1": a.url, "v2": b.url}), Settings(grpc_port=0)) as http:
        async with grpc_client(http.app.state.grpc_port) as g:
            variants = set()
            for user in range(12):
                rest = await http.post(
                    "/v2/models/m/infer",
                    json={"inputs": [{"name": "user", "shape": [1], "datatype": "INT64", "data": [user]}]},
                )
                answer = await g.infer(request(np.array([user], dtype=np.int64), "INT64", name="user"))
                assert answer.model_version == rest.headers["x-ml-serving-variant"], user
                variants.add(answer.model_version)
    assert variants == {"v1", "v2"}, "twelve users should have reached both variants"


async def test_grpc_requests_are_mirrored_compared_and_tapped(peer):
    primary, shadow = peer(), peer()
    spec = model_spec(variants=[*ONE, {"model": "models:/m/2", "role": "shadow", "mirrorPercent": 100}])
    with Receiver() as receiver:
        config = gateway_config(spec, {"v1": primary.url, "v2": shadow.url}, monitor_url=receiver.url)
        async with serve(config, Settings(grpc_port=0, tap_batch_size=1, tap_flush_ms=10)) as http:
            async with grpc_client(http.app.state.grpc_port) as g:
                await g.infer(request(np.array([[1.5, 2.5]], dtype=np.float32), request_id="t1"))
            await wait_for(lambda: shadow.state.calls == 1 and receiver.batches)
            stats = http.app.state.gateway.routes["m"].stats.shadows["v2"]
            await wait_for(lambda: stats.compared == 1)
    assert stats.agreed == 1 and stats.errors == 0
    record = receiver.batches[0].records[0]
    assert record.request_id == "t1" and record.inputs == {"x": [[1.5, 2.5]]} and record.outputs == {"predict": [4.0]}


async def test_an_image_tensor_crosses_to_the_model_server_whole(peer):
    p = peer()
    config = gateway_config(model_spec(variants=ONE), {"v1": p.url})
    # A 224x224x3 FP32 image (602 KB), its raw tensor read as a view of the message (grpc_wire.py).
    rows = (np.arange(224 * 224 * 3, dtype=np.float32) % 7 - 3).reshape(1, -1) / 3
    async with serve(config, Settings(grpc_port=0)) as http:
        async with grpc_client(http.app.state.grpc_port) as g:
            answer = await g.infer(request(rows))
    assert output(answer) == pytest.approx(rows.astype(np.float64).sum(axis=1).tolist(), rel=1e-9)
    assert p.state.calls == 1


async def test_a_message_over_the_body_limit_and_a_compressed_bomb_are_refused_before_the_model(peer):
    """``maxBodyBytes`` bounds gRPC messages as it bounds REST bodies, decompressed size included:
    RESOURCE_EXHAUSTED, nothing sent upstream, and the next call within the limit is answered."""
    p = peer()
    config = gateway_config(model_spec(variants=ONE), {"v1": p.url}, max_body_bytes=1 << 20)

    def message(nbytes: int) -> pb.ModelInferRequest:
        infer = pb.ModelInferRequest(model_name="m", raw_input_contents=[bytes(nbytes)])
        infer.inputs.add(name="x", datatype="FP32", shape=[1, nbytes // 4])
        return infer

    async with serve(config, Settings(grpc_port=0)) as client:
        address = f"127.0.0.1:{client.app.state.grpc_port}"
        async with grpc.aio.insecure_channel(address, options=[("grpc.max_send_message_length", -1)]) as channel:
            stub = pb_grpc.GRPCInferenceServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as plain:
                await stub.ModelInfer(message(2 << 20), timeout=30)
            # 32 MiB of zeros, about 32 KiB once gzipped: small on the wire, over the limit inflated.
            with pytest.raises(grpc.aio.AioRpcError) as bomb:
                await stub.ModelInfer(message(32 << 20), timeout=30, compression=grpc.Compression.Gzip)
            within = await stub.ModelInfer(message(64 << 10), timeout=30, compression=grpc.Compression.Gzip)
    assert plain.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, plain.value.details()
    assert "larger than max" in plain.value.details() and "1048576" in plain.value.details()
    assert bomb.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, bomb.value.details()
    assert "Decompressed message larger than max" in bomb.value.details()
    assert np.frombuffer(within.raw_output_contents[0], dtype=np.float64).tolist() == [0.0]
    assert p.state.calls == 1, "only the call within the limit reached the model server"


async def test_a_client_deadline_shorter_than_the_budget_gets_the_fallback_before_it(peer):
    """A gRPC deadline is the caller's own budget: the fallback comes before it ends, not
    DEADLINE_EXCEEDED, and a model cut short by it is not held against its breaker."""
    hanging = peer(mode="hang", hang_s=30.0)
    breaker = {"failureThreshold": 1, "cooldownMs": 60_000}  # one recorded failure would open it
    spec = model_spec(variants=ONE, latencyBudgetMs=20_000, fallback={"value": 0}, circuitBreaker=breaker)
    async with serve(gateway_config(spec, {"v1": hanging.url}), Settings(grpc_port=0)) as http:
        target = http.app.state.gateway.routes["m"].targets["v1"]
        async with grpc.aio.insecure_channel(f"127.0.0.1:{http.app.state.grpc_port}") as channel:
            stub = pb_grpc.GRPCInferenceServiceStub(channel)
            t0 = time.monotonic()
            calls = [stub.ModelInfer(one_row(), timeout=0.4) for _ in range(4)]  # two in flight, two queued
            answers = await asyncio.gather(*calls)
            elapsed = time.monotonic() - t0
            trailing = [dict(await call.trailing_metadata()) for call in calls]
            await wait_for(lambda: target.coalescer._in_flight == 0 and target.coalescer.queued == 0, timeout_s=5)
            state = target.breaker.state.name
        metrics = (await http.get("/metrics")).text
    assert [t["x-ml-serving-fallback"] for t in trailing] == ["timeout"] * 4, trailing
    # Served fallbacks are counted; the variant's failures, which promotion reads, are not.
    assert 'ml_serving_gateway_fallbacks_total{model="m",reason="timeout",variant="v1"} 4.0' in metrics
    assert 'ml_serving_gateway_upstream_failures_total{model="m",reason="timeout",variant="v1"} 0.0' in metrics
    assert [np.frombuffer(a.raw_output_contents[0], dtype=np.int64).tolist() for a in answers] == [[0]] * 4
    # Fallbacks rather than DEADLINE_EXCEEDED: they reached the client before its deadline,
    # and so long before the budget of 20 s.
    assert elapsed < 2.0, f"the fallbacks took {elapsed * 1000:.0f} ms"
    assert state == "CLOSED"


async def test_a_client_that_gives_up_frees_the_variant_and_costs_the_breaker_nothing(peer):
    """With no fallback, a gRPC deadline shorter than the budget ends the call with an error
    (the gateway's, just before the deadline, or the client's own): the upstream request is
    dropped at once (its slot and connection back), and the breaker records no failure."""
    hanging = peer(mode="hang", hang_s=30.0)
    # One recorded failure would open the breaker for a minute: CLOSED at the end means none was.
    breaker = {"failureThreshold": 1, "cooldownMs": 60_000}
    spec = model_spec(variants=ONE, latencyBudgetMs=20_000, fallback=None, circuitBreaker=breaker)
    async with serve(gateway_config(spec, {"v1": hanging.url}), Settings(grpc_port=0)) as http:
        target = http.app.state.gateway.routes["m"].targets["v1"]
        async with grpc.aio.insecure_channel(f"127.0.0.1:{http.app.state.grpc_port}") as channel:
            stub = pb_grpc.GRPCInferenceServiceStub(channel)
            message = one_row()
            calls = [stub.ModelInfer(message, timeout=0.3) for _ in range(4)]  # two in flight, two queued
            outcomes = await asyncio.gather(*calls, return_exceptions=True)
            codes = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
            assert all(isinstance(o, grpc.aio.AioRpcError) and o.code() in codes for o in outcomes), outcomes
            told = [o.details() for o in outcomes if o.code() == grpc.StatusCode.UNAVAILABLE]
            assert all("the caller's deadline of" in d and "budget of 20000 ms" in d for d in told), told
            await wait_for(lambda: target.coalescer._in_flight == 0 and target.coalescer.queued == 0, timeout_s=5)
            assert target.breaker.state.name == "CLOSED"
            hanging.state.mode = "answer"  # the model recovers: the next call gets it at once
            t0 = time.monotonic()
            response = await stub.ModelInfer(message, timeout=5)
            assert (time.monotonic() - t0) < 2.0
    assert np.frombuffer(response.raw_output_contents[0], dtype=np.float64).tolist() == [1.0]
