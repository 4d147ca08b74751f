"""LitServe peer: a LitAPI batching up to 32 requests with a 10 ms wait (``max_batch_size``, ``batch_timeout``).

    .bench/peers/litserve-venv/bin/python bench/peers/litserve_server.py MODEL_DIR PORT [MAX_BATCH] [WAIT_MS]

LitServe's default ``batch`` stacks single rows into shape (n, 1, features), so ``batch`` and
``unbatch`` are overridden for tabular rows: one frame of n rows in, n predictions out.
LitServe runs a main process, a manager, the HTTP server and a separate inference worker.
"""

from __future__ import annotations

import sys

import litserve as ls
from fastapi import HTTPException
from v2rows import BadRequest, answer, frame, load, one_row

MODEL = "rf"


class RandomForestAPI(ls.LitAPI):
    def setup(self, device: str) -> None:
        self.model = load(sys.argv[1])

    def decode_request(self, request: dict) -> dict[str, float]:
        try:
            return one_row(request)
        except BadRequest as exc:
            raise HTTPException(400, str(exc)) from None

    def batch(self, inputs: list[dict[str, float]]):  # noqa: ANN201 - a frame
        return frame(inputs)

    def predict(self, x):  # noqa: ANN001, ANN201
        return self.model.predict(x)

    def unbatch(self, output) -> list:  # noqa: ANN001
        return list(output)

    def encode_response(self, output) -> dict:  # noqa: ANN001
        return answer(MODEL, output)


def main() -> None:
    port = int(sys.argv[2])
    max_batch = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    wait_s = (float(sys.argv[4]) if len(sys.argv) > 4 else 10.0) / 1000
    api = RandomForestAPI(max_batch_size=max_batch, batch_timeout=wait_s, api_path=f"/v2/models/{MODEL}/infer")
    server = ls.LitServer(api, accelerator="cpu", workers_per_device=1)
    server.run(host="127.0.0.1", port=port, log_level="warning", generate_client_file=False)


if __name__ == "__main__":
    main()
