"""Train the example digit classifier (a small residual CNN, PyTorch) and register it with lineage.

    python examples/train_vision.py --tracking-uri http://127.0.0.1:5000 --model-name vision --versions 2

The data is scikit-learn's digits rendered as RGB images of varied sizes, noise, contrast and
encodings (``examples/digits.py``); 20% of the digits are held out, rendered with another seed,
and the held-out accuracy is logged (the script fails below ``--min-accuracy``). Images go
through the server's own preprocessing (``runtime.vision.preprocess``) for training, so the
model sees in training exactly what it sees when served. Registers versions until the model has
at least ``--versions`` (so a second run adds nothing); each version carries its signature
(images in, class and scores out), an input example, the dataset (source and digest), the git
commit and the drift reference profile of image statistics.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from examples.digits import SOURCE, render, split  # noqa: E402
from examples.train_fraud import register_versions  # noqa: E402
from runtime.errors import MLServingError  # noqa: E402

__all__ = ["train", "evaluate", "register_one", "main", "PREPROCESSING", "LABELS"]

PREPROCESSING: dict[str, Any] = {"size": 16, "interpolation": "bilinear", "aspect": "pad"}
LABELS = [str(d) for d in range(10)]


def _batch(model, images: list) -> np.ndarray:
    prep = model.prep
    return np.stack([model.prepare(v, i, prep) for i, v in enumerate(images)])


def train(seed: int = 0, renders: int = 2, epochs: int = 6, width: int = 16, say=print):
    """A fitted ``ImageClassifier`` (CPU, float32) and its training images, labels and figures."""
    import torch
    from torch import nn

    from runtime.vision.classifier import ImageClassifier
    from runtime.vision.network import ResidualCNN
    from runtime.vision.preprocess import Preprocessing

    torch.manual_seed(seed)
    # Small tensors: one thread does the work; more only spin against each other on a busy host.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model = ImageClassifier(Preprocessing(**PREPROCESSING).to_dict(), LABELS, width=width)
    train_idx, _ = split()
    images, labels = [], []
    for r in range(renders):
        part, y = render(train_idx, seed=1000 * seed + r)
        images += part
        labels.append(y)
    y_all = torch.from_numpy(np.concatenate(labels))
    x_all = torch.from_numpy(_batch(model, images))
    net = ResidualCNN(classes=len(LABELS), width=width)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-2, weight_decay=1e-4)
    steps = epochs * ((len(y_all) + 127) // 128)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-2, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    started = time.monotonic()
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(y_all), generator=generator)
        total = 0.0
        for start in range(0, len(order), 128):
            pick = order[start : start + 128]
            optimizer.zero_grad()
            loss = loss_fn(net(x_all[pick]), y_all[pick])
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach()) * len(pick)
        say(f"  epoch {epoch + 1}/{epochs}: loss {total / len(order):.4f}")
    torch.set_num_threads(threads)
    model.use_network(net)
    figures = {"train_seconds": time.monotonic() - started, "train_images": float(len(y_all))}
    return model, images, np.concatenate(labels), figures


def evaluate(model, seed: int = 99, shift: str = "none") -> float:
    """Accuracy on the held-out digits, rendered with ``seed`` (and ``shift``)."""
    _, test_idx = split()
    images, labels = render(test_idx, seed=seed, shift=shift)
    predicted = model.forward(_batch(model, images))["class"]
    return float((predicted.astype(int) == labels).mean())


def register_one(name: str, seed: int, alias: str | None = None, epochs: int = 6, min_accuracy: float = 0.95):
    from runtime.registry.images import register_image_model

    model, images, labels, figures = train(seed=seed, epochs=epochs)
    accuracy = evaluate(model)
    if accuracy < min_accuracy:
        raise MLServingError(f"{name}: held-out accuracy {accuracy:.3f} is below --min-accuracy {min_accuracy}")
    with tempfile.TemporaryDirectory(prefix="ml-serving-vision-") as folder:
        return register_image_model(
            model,
            name=name,
            images=images,
            labels=labels,
            dataset_source=f"{SOURCE}?render=examples/digits.py&seed={seed}&renders=2",
            alias=alias,
            code_path=Path(__file__),
            workdir=Path(folder),
            params={"seed": seed, "epochs": epochs, **{f"preprocessing.{k}": v for k, v in PREPROCESSING.items()}},
            metrics={"heldout_accuracy": accuracy, **figures},
        ), accuracy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python examples/train_vision.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracking-uri", required=True, help="MLflow tracking URI, e.g. http://127.0.0.1:5000")
    parser.add_argument("--model-name", default="vision")
    parser.add_argument(
        "--versions", type=int, default=1, help="register until the model has at least this many versions"
    )
    parser.add_argument("--alias", default=None, help="point this alias at the newest version registered")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1, help="seed of version 1; version N uses seed + N - 1")
    parser.add_argument("--min-accuracy", type=float, default=0.95, help="fail below this held-out accuracy")
    parser.add_argument(
        "--rows", type=int, default=None, help=argparse.SUPPRESS
    )  # the local platform's knob for tabular data
    args = parser.parse_args(argv)
    if args.versions < 1 or args.epochs < 1:
        parser.error("--versions and --epochs must be at least 1")

    import mlflow

    mlflow.set_tracking_uri(args.tracking_uri)

    def one(number: int, alias: str | None):
        version, accuracy = register_one(args.model_name, args.seed + number - 1, alias, args.epochs, args.min_accuracy)
        print(f"  held-out accuracy {accuracy:.3f}", flush=True)
        return version

    return register_versions(
        args.model_name,
        args.versions,
        args.alias,
        one,
        lambda number: f"version {number} (seed {args.seed + number - 1}, {args.epochs} epochs)",
    )


if __name__ == "__main__":
    sys.exit(main())
