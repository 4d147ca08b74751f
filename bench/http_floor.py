"""The HTTP floor under the model server: the same uvicorn stack, no model and no V2 work.

    python bench/http_floor.py MODEL_DIR PORT

Row (h) of bench/modelserver.py. It runs uvicorn as the model server does (uvloop, the
project's read-limited httptools protocol), reads each request's body, and answers every POST
with one fixed V2 answer: the model's prediction of the first row it is sent, computed once.
Its rate at concurrency 32 is what uvicorn's HTTP and ASGI round trips alone cost a request on
the server's core, the part of the model server's event-loop time no V2 code of ours can save.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import orjson
import pandas as pd
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runtime.httplimits import guarded_http  # noqa: E402


def create_app(model_dir: str) -> Any:
    model = mlflow.pyfunc.load_model(model_dir)
    answer: list[bytes] = []

    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if scope["method"] == "GET":
            content = b'{"ready": true}'
        else:
            if not answer:  # the first request's prediction, then the same bytes for every request
                inputs = orjson.loads(body)["inputs"]
                prediction = model.predict(pd.DataFrame({i["name"]: i["data"] for i in inputs}))
                output = {"name": "predict", "shape": [len(prediction)], "datatype": "INT64"}
                answer.append(orjson.dumps({"model_name": "m", "outputs": [{**output, "data": prediction.tolist()}]}))
            content = answer[0]
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    return app


if __name__ == "__main__":
    config = uvicorn.Config(
        create_app(sys.argv[1]),
        host="127.0.0.1",
        port=int(sys.argv[2]),
        loop="uvloop",
        http=guarded_http(30, "the floor's fixed 30 s"),
        access_log=False,
        log_level="warning",
        lifespan="off",
    )
    uvicorn.Server(config).run()
