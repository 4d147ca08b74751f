"""The naive image server the model server replaces: FastAPI + torch, decoding inline per request.

    python bench/naive_vision_server.py WEIGHTS_DIR PORT [--device cpu|cuda]

Peer (a) of bench/vision.py: each request's images are fully decoded with Pillow, resized and
normalized in the request handler, then one forward pass per request; V2 JSON in and out.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import sys
from pathlib import Path

import numpy as np
import torch
import uvicorn
from fastapi import FastAPI
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runtime.vision.network import ResidualCNN  # noqa: E402


def create_app(weights_dir: Path, device: str) -> FastAPI:
    config = json.loads((weights_dir / "config.json").read_text())
    net = ResidualCNN(classes=len(config["labels"]), width=config["width"])
    net.load_state_dict(torch.load(weights_dir / "weights.pt", map_location="cpu", weights_only=True))
    net = net.to(device).eval()
    size, labels = config["size"], config["labels"]
    app = FastAPI()

    @app.get("/v2/health/ready")
    def ready() -> dict:
        return {"ready": True}

    @app.post("/v2/models/{name}/infer")
    def infer(name: str, body: dict) -> dict:
        images = []
        for value in body["inputs"][0]["data"]:
            image = (
                Image.open(io.BytesIO(base64.b64decode(value)))
                .convert("RGB")
                .resize((size, size), Image.Resampling.BILINEAR)
            )
            images.append(((np.asarray(image, dtype=np.float32) / 255 - 0.5) / 0.25).transpose(2, 0, 1))
        with torch.inference_mode():
            scores = torch.softmax(net(torch.from_numpy(np.stack(images)).to(device)), dim=1).cpu().numpy()
        classes = [labels[i] for i in scores.argmax(axis=1)]
        return {
            "model_name": name,
            "outputs": [
                {"name": "class", "shape": [len(classes)], "datatype": "BYTES", "data": classes},
                {"name": "scores", "shape": list(scores.shape), "datatype": "FP32", "data": scores.ravel().tolist()},
            ],
        }

    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("weights_dir", type=Path)
    parser.add_argument("port", type=int)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.weights_dir, args.device),
        host="127.0.0.1",
        port=args.port,
        access_log=False,
        log_level="warning",
    )
