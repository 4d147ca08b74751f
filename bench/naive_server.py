"""The naive wrapper the model server replaces: FastAPI + mlflow.pyfunc + a DataFrame per request.

    python bench/naive_server.py MODEL_DIR PORT

Kept as the benchmark's baseline (peer (a)); it takes the same V2 body and answers V2 JSON.
"""

from __future__ import annotations

import sys

import mlflow.pyfunc
import pandas as pd
import uvicorn
from fastapi import FastAPI


def create_app(model_dir: str) -> FastAPI:
    model = mlflow.pyfunc.load_model(model_dir)
    app = FastAPI()

    @app.get("/v2/health/ready")
    def ready() -> dict:
        return {"ready": True}

    @app.post("/v2/models/{name}/infer")
    def infer(name: str, body: dict) -> dict:
        frame = pd.DataFrame({item["name"]: item["data"] for item in body["inputs"]})
        prediction = model.predict(frame)
        return {
            "model_name": name,
            "outputs": [
                {"name": "predict", "shape": [len(prediction)], "datatype": "INT64", "data": prediction.tolist()}
            ],
        }

    return app


if __name__ == "__main__":
    uvicorn.run(create_app(sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]), access_log=False, log_level="warning")
