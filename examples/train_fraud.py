"""Train the example fraud classifier on seeded synthetic data and register it with lineage.

    python examples/train_fraud.py --tracking-uri http://127.0.0.1:5000 --model-name fraud --versions 3

registers versions until the model has at least ``--versions`` versions (so running it twice
adds nothing), each from a different seed, and can point an alias at the newest one. Every
version carries its signature, input example, training dataset (source and digest), the git
commit of this script and the drift reference profile.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from runtime.errors import MLServingError  # noqa: E402
from runtime.registry.register import RegisteredVersion, register_model  # noqa: E402

__all__ = [
    "synthetic_transactions",
    "train",
    "main",
    "existing_versions",
    "register_versions",
    "FEATURES",
    "MERCHANT_CATEGORIES",
]

MERCHANT_CATEGORIES = ("grocery", "fuel", "travel", "electronics", "restaurant", "online", "jewelry")
FEATURES = ("amount", "hour", "merchant_category", "distance_km", "card_age_days", "foreign", "txn_last_24h")
_RISK = {
    "grocery": -1.0,
    "fuel": -0.5,
    "travel": 0.6,
    "electronics": 0.9,
    "restaurant": -0.7,
    "online": 0.8,
    "jewelry": 1.4,
}


def synthetic_transactions(rows: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """Card transactions and their fraud label, a pure function of ``rows`` and ``seed``."""
    rng = np.random.default_rng(seed)
    category = rng.choice(MERCHANT_CATEGORIES, size=rows, p=[0.25, 0.15, 0.08, 0.1, 0.2, 0.17, 0.05])
    frame = pd.DataFrame(
        {
            "amount": np.round(rng.lognormal(3.6, 1.1, rows), 2),
            "hour": rng.integers(0, 24, rows),
            "merchant_category": category,
            "distance_km": np.round(rng.exponential(12.0, rows), 2),
            "card_age_days": rng.integers(1, 3650, rows),
            "foreign": rng.random(rows) < 0.07,
            "txn_last_24h": rng.poisson(2.0, rows),
        }
    )
    night = ((frame["hour"] < 5) | (frame["hour"] > 22)).astype(float)
    logit = (
        -5.0
        + 0.9 * np.log1p(frame["amount"]) / 3
        + 1.2 * night
        + 0.03 * np.minimum(frame["distance_km"], 200) / 2
        - 0.6 * np.log1p(frame["card_age_days"]) / 4
        + 1.5 * frame["foreign"].astype(float)
        + 0.25 * frame["txn_last_24h"]
        + frame["merchant_category"].map(_RISK).to_numpy()
    )
    label = rng.random(rows) < 1 / (1 + np.exp(-logit))
    return frame, pd.Series(label.astype(int), name="is_fraud")


def train(frame: pd.DataFrame, label: pd.Series, seed: int):
    """A gradient-boosted classifier behind a one-hot encoder for the merchant category."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    encode = ColumnTransformer(
        [("category", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["merchant_category"])],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    model = Pipeline([("encode", encode), ("classify", HistGradientBoostingClassifier(max_iter=60, random_state=seed))])
    return model.fit(frame, label)


def existing_versions(name: str) -> int:
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    try:
        client.get_registered_model(name)
    except MlflowException:
        return 0
    return len(client.search_model_versions(f"name='{name}'"))


def register_versions(
    name: str,
    versions: int,
    alias: str | None,
    register: Callable[[int, str | None], RegisteredVersion],
    describe: Callable[[int], str],
) -> int:
    """Register versions of ``name`` until it has ``versions`` (the alias goes on the last one);
    the exit code of a training script: 0, or 2 with the error on stderr."""
    try:
        have = existing_versions(name)
        if have >= versions:
            print(f"{name}: {have} versions registered already; nothing to do")
            return 0
        for number in range(have + 1, versions + 1):
            pinned_alias = alias if number == versions else None
            print(f"{name}: training {describe(number)} ...", flush=True)
            version = register(number, pinned_alias)
            pinned = f" alias @{pinned_alias}" if pinned_alias else ""
            print(
                f"  registered {version.uri}{pinned} run {version.run_id} commit {version.git_commit[:12]} dataset {version.dataset_digest}"
            )
    except MLServingError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    return 0


def register_one(name: str, seed: int, rows: int, alias: str | None) -> RegisteredVersion:
    frame, label = synthetic_transactions(rows, seed)
    started = time.monotonic()
    model = train(frame, label, seed)
    accuracy = float((model.predict(frame) == label).mean())
    return register_model(
        model,
        name=name,
        features=frame,
        target=label,
        dataset_source=f"synthetic://fraud-transactions?rows={rows}&seed={seed}",
        alias=alias,
        code_path=Path(__file__),
        params={"seed": seed, "rows": rows, "max_iter": 60},
        metrics={"train_accuracy": accuracy, "train_seconds": time.monotonic() - started},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python examples/train_fraud.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracking-uri", required=True, help="MLflow tracking URI, e.g. http://127.0.0.1:5000")
    parser.add_argument("--model-name", default="fraud")
    parser.add_argument(
        "--versions", type=int, default=1, help="register until the model has at least this many versions"
    )
    parser.add_argument("--alias", default=None, help="point this alias at the newest version registered")
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=7, help="seed of version 1; version N uses seed + N - 1")
    args = parser.parse_args(argv)
    if args.versions < 1 or args.rows < 50:
        parser.error("--versions must be at least 1 and --rows at least 50")

    import mlflow

    mlflow.set_tracking_uri(args.tracking_uri)
    return register_versions(
        args.model_name,
        args.versions,
        args.alias,
        lambda number, alias: register_one(args.model_name, args.seed + number - 1, args.rows, alias),
        lambda number: f"version {number} on {args.rows} synthetic rows (seed {args.seed + number - 1})",
    )


if __name__ == "__main__":
    sys.exit(main())
