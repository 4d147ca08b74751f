"""Seed a throwaway MLflow registry with the versions the shipped stacks name, then lock them.

    python examples/seed_registry.py            # writes stacks/models.<stack>.lock.json for every stack

Starts MLflow on loopback (SQLite + a local artifact folder in a temp dir), registers with
``register_model`` (so every version has lineage): fraud 1..7 (the example classifier; alias
``challenger`` -> 5), recommender-popular 1..2 and recommender-als 1..3 (the example
recommenders), vision-resnet 1..9 (alias ``champion`` -> 8) and vision 1..2 (the example digit
CNN, ``examples/train_vision.py``, each version from its own seed), and runs the lock command for each stack
against it. Versions are sequential in MLflow, so earlier versions are registered to reach the
numbers the stacks name. The locks record this registry's tracking URI, run ids, commits and
digests as they are; artifact URIs stay ``mlflow-artifacts:/...``, which the cluster resolves
against its own artifact bucket.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from examples.train_fraud import register_one  # noqa: E402
from examples.train_recommender import register_one as register_recommender  # noqa: E402
from examples.train_vision import register_one as register_vision  # noqa: E402
from runtime.local.stopping import interrupt_on_stop_signals  # noqa: E402
from runtime.registry.__main__ import main as registry_main  # noqa: E402
from runtime.registry.lock import lock_path, read_lock, write_lock  # noqa: E402
from runtime.registry.server import local_registry  # noqa: E402

STACKS = ("local", "dev", "staging", "prod")
ALIASES = {("fraud", 5): "challenger", ("vision-resnet", 8): "champion"}
RECOMMENDERS = {"recommender-popular": ("popularity", 2), "recommender-als": ("als", 3)}
VISION = {"vision-resnet": 9, "vision": 2}
"""Image classifiers: the example digit CNN, trained per version."""
STAND_IN_NOTE = (
    "made by examples/seed_registry.py against a throwaway local registry, not this stack's; "
    "relock against the stack's registry before deploying"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python examples/seed_registry.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stacks-dir", type=Path, default=ROOT / "stacks")
    parser.add_argument("--stacks", nargs="+", default=list(STACKS))
    args = parser.parse_args(argv)
    import mlflow

    interrupt_on_stop_signals()  # a SIGTERM stops the throwaway registry too, as Ctrl-C does

    with tempfile.TemporaryDirectory(prefix="ml-serving-seed-") as folder, local_registry(Path(folder)) as url:
        print(f"seed registry at {url} (state in {folder})", flush=True)
        mlflow.set_tracking_uri(url)
        for number in range(1, 8):
            print(f"fraud: version {number}", flush=True)
            register_one("fraud", 6 + number, 4000, ALIASES.get(("fraud", number)))
        for name, (algorithm, count) in RECOMMENDERS.items():
            for number in range(1, count + 1):
                print(f"{name}: version {number}", flush=True)
                register_recommender(name, algorithm, world_seed=0, seed=number)
        for name, count in VISION.items():
            for number in range(1, count + 1):
                print(f"{name}: version {number} (digit CNN)", flush=True)
                register_vision(name, number, ALIASES.get((name, number)))
        for stack in args.stacks:
            code = registry_main(
                ["lock", "--stack", stack, "--stacks-dir", str(args.stacks_dir), "--tracking-uri", url]
            )
            if code:
                return code
            lock = read_lock(stack, args.stacks_dir)
            write_lock(lock.model_copy(update={"stand_in": STAND_IN_NOTE}), lock_path(stack, args.stacks_dir))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as stopped:
        print(f"stopped ({stopped or 'SIGINT'}); the seed registry is stopped", file=sys.stderr)
        sys.exit(130)
