"""What the model server serves: the V2 protocol, and nothing that lets a caller change it.

KServe's ModelServer also serves its V1 routes, which fail on a V2 model (``:predict`` was a
500 ``AttributeError``), and its model repository extension, which unloaded the model for any
caller with no credentials: ``POST /v2/repository/models/<name>/unload`` (or gRPC's
``RepositoryModelUnload``), and the predictor answered 404 until restarted. Tried with NVIDIA's
clients, whose ``unload_model`` is one call.
"""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from tests.ports import free_port
from tests.runtime.modelserver.servers import REPO, start_server
from tests.runtime.modelserver.slow_model import save_slow_model

V2 = "this model server speaks the V2 protocol"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("surface")
    grpc_port = free_port()
    command = ["--model_name", "slow", "--model_dir", str(save_slow_model(root / "slow"))]
    served = start_server([*command, "--grpc_port", str(grpc_port)], root / "server.log")
    yield served, f"127.0.0.1:{grpc_port}"
    served.stop()
    assert "Traceback" not in served.output(), served.output()[-3000:]


def ready(url: str) -> bool:
    return httpx.get(f"{url}/v2/models/slow/ready", timeout=10).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v2/repository/models/slow/unload"),
        ("POST", "/v2/repository/models/slow/load"),
        ("POST", "/v2/repository/index"),
        ("POST", "/v1/models/slow:predict"),
        ("GET", "/v1/models"),
        ("GET", "/v1/models/slow"),
        ("GET", "/v2/no/such/route"),
    ],
)
def test_what_is_not_served_is_a_404_naming_what_is(server, method, path):
    served, _ = server
    response = httpx.request(method, served.url + path, json={"instances": [[1.0]]}, timeout=10)
    assert response.status_code == 404, response.text
    assert response.json()["error"] == (
        f"{method} {path}: no such route; {V2} (GET /v2/health/ready, GET /v2/models/<name>,"
        " POST /v2/models/<name>/infer)"
    )
    assert ready(served.url)


def test_a_method_not_served_is_a_405_in_the_same_form(server):
    served, _ = server
    response = httpx.get(f"{served.url}/v2/models/slow/infer", timeout=10)
    assert response.status_code == 405 and response.headers["allow"] == "POST", response.text
    assert response.json()["error"].startswith("GET /v2/models/slow/infer: method not allowed; " + V2)


UNLOAD = """
import json, sys
kind, target = sys.argv[1:3]
if kind == "grpc":
    import tritonclient.grpc as client
else:
    import tritonclient.http as client
from tritonclient.utils import InferenceServerException
c = client.InferenceServerClient(target)
try:
    c.unload_model("slow")
    seen = {"unloaded": True}
except InferenceServerException as exc:
    seen = {"status": str(exc.status()), "message": exc.message()}
seen["ready"] = c.is_model_ready("slow")
print(json.dumps(seen))
"""


@pytest.mark.parametrize("kind", ["grpc", "http"])
def test_tritonclient_cannot_unload_the_model(server, kind):
    served, grpc_address = server
    target = grpc_address if kind == "grpc" else served.url.removeprefix("http://")
    done = subprocess.run(
        [sys.executable, "-c", UNLOAD, kind, target], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["ready"] is True, seen
    if kind == "grpc":
        assert seen["status"] == "StatusCode.UNIMPLEMENTED", seen
        assert "model repository extension is not served" in seen["message"], seen
    else:
        assert seen["status"] == "404", seen
        assert V2 in seen["message"], seen
