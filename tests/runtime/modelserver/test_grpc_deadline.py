"""Over gRPC the model server reads the caller's time as over REST: the call's own deadline
(``client_timeout`` in tritonclient, ``timeout`` in KServe's client) and the gateway's
``x-ml-serving-timeout-ms`` as metadata. A request still queued when its caller has stopped
waiting is not predicted, and is counted in ``ml_serving_batch_expired_total``.

KServe's servicer hands the model the call's metadata but not its deadline. gRPC cancels the
call at its deadline, so the queue skipped it, but unseen: not counted, and the header ignored.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from runtime.protocol.deadline import TIMEOUT_HEADER
from tests.ports import free_port
from tests.runtime.modelserver.servers import REPO, start_server
from tests.runtime.modelserver.slow_model import save_slow_model

CLIENTS = ["tritonclient.grpc", "kserve.grpc"]
PREDICT_S = 1.5
"""How long the slow model's predict takes here: the gRPC call (0.1 s deadline) must reach the
queue while the REST request ahead of it is still in its predict, after the client has polled
/metrics to see that request in; 0.3 s left a loaded machine about 0.2 s for that."""


def _slow(tmp_path_factory, batching: list[str]):
    root = tmp_path_factory.mktemp("slow-grpc")
    save_slow_model(root / "slow", PREDICT_S)
    grpc_port = free_port()
    command = ["--model_name", "slow", "--model_dir", str(root / "slow"), *batching, "--grpc_port", str(grpc_port)]
    server = start_server(command, root / "server.log")
    return server, f"127.0.0.1:{grpc_port}"


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory):
    """The slow model (PREDICT_S a predict) batched one request at a time, over REST and gRPC."""
    server, address = _slow(tmp_path_factory, ["--max_batch_size", "1", "--max_latency_ms", "1"])
    yield server, address
    server.stop()


@pytest.fixture(scope="module")
def unbatched_slow_server(tmp_path_factory):
    """The same, unbatched (the model server's default): each request its own predict, in turn."""
    server, address = _slow(tmp_path_factory, [])
    yield server, address
    server.stop()


def metric(server, name: str) -> float:
    for line in httpx.get(f"{server.url}/metrics", timeout=10).text.splitlines():
        if line.startswith(f'{name}{{model="slow"}}'):
            return float(line.split()[-1])
    return 0.0


def grpc_call(
    kind: str, address: str, timeout_s: float, metadata: dict[str, str] | None = None, behind: str | None = None
) -> dict:
    args = [kind, address, str(timeout_s), *(["--behind", behind] if behind else [])]
    args += [f"{k}={v}" for k, v in (metadata or {}).items()]
    done = subprocess.run(
        [sys.executable, "-m", "tests.runtime.modelserver.grpc_call", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def wait_for(condition, what: str, within: float = 20) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


@pytest.mark.parametrize("kind", CLIENTS)
@pytest.mark.parametrize("serving", ["slow_server", "unbatched_slow_server"])
def test_a_grpc_call_whose_deadline_passes_in_the_queue_is_counted_and_not_predicted(request, serving, kind):
    server, address = request.getfixturevalue(serving)
    expired = metric(server, "ml_serving_batch_expired_total")
    predicted = metric(server, "ml_serving_batch_requests_count")
    # A REST request in the predict (PREDICT_S) first; the gRPC call queues behind it with 0.1 s.
    answer = grpc_call(kind, address, 0.1, behind=server.url)
    assert answer["behind"] == 200, answer
    assert answer["code"] == "DEADLINE_EXCEEDED", answer
    wait_for(
        lambda: metric(server, "ml_serving_batch_expired_total") == expired + 1,
        f"the gRPC call was not dropped from the queue when its deadline passed: {expired} then"
        f" {metric(server, 'ml_serving_batch_expired_total')}, {answer}\n{server.output()[-2000:]}",
    )
    assert metric(server, "ml_serving_batch_requests_count") == predicted + 1  # the REST request alone


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_grpc_call_within_its_deadline_is_answered(slow_server, kind):
    server, address = slow_server
    assert grpc_call(kind, address, 20.0) == {"code": "OK", "details": ""}


@pytest.mark.parametrize(
    ("value", "code", "details"),
    [("0", "UNAVAILABLE", "timeout ran out"), ("soon", "INVALID_ARGUMENT", TIMEOUT_HEADER)],
)
def test_the_gateway_timeout_as_metadata_counts_as_over_rest(slow_server, value, code, details):
    server, address = slow_server
    answer = grpc_call("tritonclient.grpc", address, 20.0, {TIMEOUT_HEADER: value})
    assert answer["code"] == code and details in answer["details"], answer
