"""Registry benchmark: registering a version with lineage, beside plain MLflow logging, and locking.

    .venv/bin/python bench/registry.py [--versions 3] [--rows 4000]

Starts a throwaway MLflow registry on loopback (SQLite + local artifacts, in a temp dir), trains
the example fraud classifier, and times per version: MLflow's own ``log_model`` with
``registered_model_name`` (no dataset, no profile, pip requirements inferred, MLflow's default)
and ``register_model`` (dataset input, git commit, reference profile, stated requirements).
Then times ``resolve_lock`` over the registered URIs. Prints one table. The machine may be
shared: run it twice before trusting a close call.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from examples.train_fraud import synthetic_transactions, train  # noqa: E402
from runtime.registry.register import register_model  # noqa: E402
from runtime.registry.resolve import resolve_lock  # noqa: E402
from runtime.registry.server import local_registry  # noqa: E402
from runtime.spec import read_stack_config, validate_config  # noqa: E402


def plain_mlflow(model, frame, name: str) -> None:
    import mlflow
    import skops.io

    trusted = sorted(set(skops.io.get_untrusted_types(data=skops.io.dumps(model))))
    with mlflow.start_run(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        mlflow.sklearn.log_model(
            model, name="model", registered_model_name=name, input_example=frame.head(5), skops_trusted_types=trusted
        )


def timed(label: str, count: int, step) -> list[float]:
    seconds = []
    for number in range(1, count + 1):
        started = time.monotonic()
        step(number)
        seconds.append(time.monotonic() - started)
        print(f"  {label}: version {number} in {seconds[-1]:.2f} s", flush=True)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/registry.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument("--rows", type=int, default=4000)
    args = parser.parse_args(argv)
    import mlflow

    frame, label = synthetic_transactions(args.rows, 7)
    started = time.monotonic()
    model = train(frame, label, 7)
    train_s = time.monotonic() - started
    rows = []
    with tempfile.TemporaryDirectory(prefix="ml-serving-bench-") as folder, local_registry(Path(folder)) as url:
        print(f"registry at {url}; trained the fraud model on {args.rows} rows in {train_s:.2f} s", flush=True)
        mlflow.set_tracking_uri(url)
        mlflow.set_experiment("bench")
        plain = timed("mlflow log_model", args.versions, lambda n: plain_mlflow(model, frame, "fraud-plain"))
        helper = timed(
            "register_model",
            args.versions,
            lambda n: register_model(
                model,
                name="fraud",
                features=frame,
                target=label,
                dataset_source=f"synthetic://bench?n={n}",
                code_path=REPO,
            ),
        )
        uris = [
            {"model": f"models:/fraud/{n}", "role": "shadow", "mirrorPercent": 10} for n in range(2, args.versions + 1)
        ]
        config, _ = read_stack_config(REPO / "stacks" / "Pulumi.dev.yaml")
        config["ml-serving:models"]["fraud"]["variants"] = [
            {"model": "models:/fraud/1", "role": "primary", "weight": 100},
            *uris,
        ]
        spec = validate_config(config, "bench")
        started = time.monotonic()
        lock = resolve_lock(spec, url)
        lock_s = time.monotonic() - started
    rows.append(("mlflow log_model (no lineage, inferred requirements)", plain))
    rows.append(("register_model (dataset, commit, profile, stated requirements)", helper))
    print()
    print(f"{'per registered version':<66} {'median s':>9} {'max s':>7}")
    for name, seconds in rows:
        print(f"{name:<66} {statistics.median(seconds):>9.2f} {max(seconds):>7.2f}")
    print(f"{f'resolve_lock, {len(lock.versions)} URIs (whole stack)':<66} {lock_s:>9.2f} {lock_s:>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
