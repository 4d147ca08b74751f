"""Ray Serve peer: one replica whose ``@serve.batch`` gathers up to 32 requests, waiting 10 ms at most.

    .bench/peers/ray-venv/bin/python bench/peers/ray_serve.py MODEL_DIR PORT [MAX_BATCH] [WAIT_MS]

A replica takes 5 concurrent requests by default (``max_ongoing_requests``), which would cap
its batches at 5: it is raised to 2 x 32 here. Ray starts GCS, a raylet, a controller, an HTTP
proxy and the replica, several in sessions of their own, on one machine-local cluster limited
to one CPU; the bench pins the whole tree to one core and stops it whole. Ray's token
authentication is on (``RAY_AUTH_MODE=token``), because Ray binds its internal ports on every
interface whatever address it is given.
"""

from __future__ import annotations

import signal
import sys
import threading

import ray
from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse
from v2rows import BadRequest, answer, frame, load, one_row

MODEL = "rf"
MAX_BATCH = int(sys.argv[3]) if len(sys.argv) > 3 else 32
WAIT_S = (float(sys.argv[4]) if len(sys.argv) > 4 else 10.0) / 1000


class RandomForestModel:
    def __init__(self, model_dir: str) -> None:
        self.model = load(model_dir)

    @serve.batch(max_batch_size=MAX_BATCH, batch_wait_timeout_s=WAIT_S)
    async def predict(self, rows: list[dict[str, float]]) -> list:
        return list(self.model.predict(frame(rows)))

    async def __call__(self, request: Request) -> JSONResponse:
        try:
            row = one_row(await request.json())
        except (BadRequest, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(answer(MODEL, await self.predict(row)))


RandomForest = serve.deployment(num_replicas=1, max_ongoing_requests=2 * MAX_BATCH, ray_actor_options={"num_cpus": 1})(
    RandomForestModel
)


def main() -> None:
    model_dir, port = sys.argv[1], int(sys.argv[2])
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopped.set())
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(RandomForest.bind(model_dir), name=MODEL, route_prefix=f"/v2/models/{MODEL}/infer")
        print(f"ray serve: ready on 127.0.0.1:{port}", flush=True)
        stopped.wait()
    finally:
        serve.shutdown()
        ray.shutdown()


if __name__ == "__main__":
    main()
