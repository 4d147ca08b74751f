"""Train a recommender on implicit feedback from a known ground truth and register it with lineage.

    python examples/train_recommender.py --tracking-uri http://127.0.0.1:5000 --algorithm als --versions 1

``--algorithm popularity`` trains the baseline (most interacted-with items per context),
``--algorithm als`` implicit alternating least squares. The data come from
``runtime.recommend.TasteWorld`` with ``--world-seed`` (the ground truth the demo replays) and one
interaction sample per version (``--seed`` + version - 1). Registers versions until the model has
at least ``--versions``, so running it twice adds nothing. Each version carries its signature
(``user_id`` and an optional ``context`` in, top-k ``items`` and ``scores`` out), input example,
training dataset (source and digest), git commit and a drift profile of its inputs; its metrics
include the expected conversion of its lists under the ground truth.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from examples.train_fraud import register_versions  # noqa: E402
from runtime.recommend import CONTEXTS, ALSRecommender, PopularityRecommender, TasteWorld  # noqa: E402
from runtime.registry.register import RegisteredVersion, register_model  # noqa: E402

__all__ = ["ALGORITHMS", "MODEL_NAMES", "train", "register_one", "main"]

ALGORITHMS = {"popularity": PopularityRecommender, "als": ALSRecommender}
MODEL_NAMES = {"popularity": "recommender-popular", "als": "recommender-als"}
"""The registered model name of each algorithm unless ``--model-name`` says otherwise."""


def train(algorithm: str, world: TasteWorld, seed: int):
    """The fitted model, its training inputs (one row per interaction) and the items interacted with."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; expected one of {sorted(ALGORITHMS)}")
    data = world.interactions(seed=seed)
    features, items = data[["user_id", "context"]], data["item_id"]
    return ALGORITHMS[algorithm]().fit(features, items), features, items


def expected_conversion(model, world: TasteWorld) -> float:
    users = np.arange(world.n_users)
    contexts = np.asarray(CONTEXTS, dtype=object)[world.home_context]
    shown = model.predict(pd.DataFrame({"user_id": users, "context": contexts}))["items"]
    return world.expected_conversion(users, shown)


def register_one(name: str, algorithm: str, world_seed: int, seed: int, alias: str | None = None) -> RegisteredVersion:
    world = TasteWorld.generate(seed=world_seed)
    started = time.monotonic()
    model, features, items = train(algorithm, world, seed)
    seconds = time.monotonic() - started
    return register_model(
        model,
        name=name,
        features=features,
        target=items,
        dataset_source=f"synthetic://recommender-interactions?world_seed={world_seed}&seed={seed}",
        alias=alias,
        code_path=Path(__file__),
        params={"algorithm": algorithm, "world_seed": world_seed, "seed": seed, **model.get_params()},
        metrics={"expected_conversion": expected_conversion(model, world), "train_seconds": seconds},
        profile_outputs=False,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python examples/train_recommender.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracking-uri", required=True, help="MLflow tracking URI, e.g. http://127.0.0.1:5000")
    parser.add_argument("--algorithm", choices=sorted(ALGORITHMS), required=True)
    parser.add_argument(
        "--model-name", default=None, help="registered model name (default: recommender-popular or recommender-als)"
    )
    parser.add_argument(
        "--versions", type=int, default=1, help="register until the model has at least this many versions"
    )
    parser.add_argument("--alias", default=None, help="point this alias at the newest version registered")
    parser.add_argument("--world-seed", type=int, default=0, help="seed of the ground truth (users, items, tastes)")
    parser.add_argument(
        "--seed", type=int, default=1, help="interaction sample of version 1; version N uses seed + N - 1"
    )
    parser.add_argument(
        "--rows", type=int, default=None, help="accepted for the local platform's seeding; the world fixes the rows"
    )
    args = parser.parse_args(argv)
    if args.versions < 1:
        parser.error("--versions must be at least 1")
    name = args.model_name or MODEL_NAMES[args.algorithm]

    import mlflow

    mlflow.set_tracking_uri(args.tracking_uri)
    return register_versions(
        name,
        args.versions,
        args.alias,
        lambda number, alias: register_one(name, args.algorithm, args.world_seed, args.seed + number - 1, alias),
        lambda number: f"{args.algorithm} version {number} (world {args.world_seed}, sample {args.seed + number - 1})",
    )


if __name__ == "__main__":
    sys.exit(main())
