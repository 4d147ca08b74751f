"""Make sure the registry holds the versions the stack names, and fetch their reference profiles.

Missing versions are trained and registered with lineage by the example training scripts
(``examples/train_fraud.py``, ``examples/train_recommender.py`` for the recommenders and
``examples/train_vision.py`` for the digit CNN; each
registers until a model has N versions, so a second start trains nothing). Each variant's drift reference profile is downloaded into the state folder for
the drift monitor.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from runtime.local.errors import SeedError
from runtime.local.layout import LOCAL_REGISTRY_ENV, REPO_ROOT, Layout
from runtime.local.process import log_tail
from runtime.registry.resolve import env_defaults

__all__ = ["SeedError", "ensure_versions", "download_profiles", "TRAINING_SCRIPT", "TRAINERS", "PROFILE_ARTIFACT"]

TRAINING_SCRIPT = REPO_ROOT / "examples" / "train_fraud.py"
TRAINERS: dict[str, tuple[Path, tuple[str, ...]]] = {
    "recommender-popular": (REPO_ROOT / "examples" / "train_recommender.py", ("--algorithm", "popularity")),
    "recommender-als": (REPO_ROOT / "examples" / "train_recommender.py", ("--algorithm", "als")),
    "vision": (REPO_ROOT / "examples" / "train_vision.py", ()),
}
"""Registered model name -> the script (and its arguments) that trains it; others use TRAINING_SCRIPT."""
PROFILE_ARTIFACT = "reference_profile.json"
"""Where the registration helper logs the drift reference profile in a version's run."""


def _client(layout: Layout):
    import mlflow

    return mlflow.MlflowClient(tracking_uri=layout.tracking_uri, registry_uri=layout.tracking_uri)


def _wanted(layout: Layout) -> dict[str, int]:
    """Registered model name -> the number of versions it must have."""
    wanted: dict[str, int] = {}
    for model in layout.spec.models.values():
        for variant in model.variants:
            uri = variant.uri
            wanted[uri.name] = max(wanted.get(uri.name, 1), uri.version or 1)
    return wanted


def _count(client, name: str) -> int:
    return len(client.search_model_versions(f"name='{name}'"))


@env_defaults(LOCAL_REGISTRY_ENV)  # for these calls only, not the rest of the process
def ensure_versions(layout: Layout, say: Callable[[str], None] = print, rows: int | None = None) -> dict[str, int]:
    """Train and register what the registry lacks; returns versions trained per model."""
    client = _client(layout)
    trained: dict[str, int] = {}
    for name, count in _wanted(layout).items():
        have = _count(client, name)
        if have >= count:
            say(f"  registry has {name} versions 1..{have}: reusing them")
            continue
        script, extra = TRAINERS.get(name, (TRAINING_SCRIPT, ()))
        if not script.exists():
            raise SeedError(f"the registry lacks {name} versions {have + 1}..{count} and {script} is missing")
        log_path = layout.logs_dir / f"train-{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        argv = [
            sys.executable,
            str(script),
            "--tracking-uri",
            layout.tracking_uri,
            "--model-name",
            name,
            "--versions",
            str(count),
            *extra,
        ]
        if rows:
            argv += ["--rows", str(rows)]
        say(
            f"  training {name} versions {have + 1}..{count} with {script.relative_to(REPO_ROOT)} (log: {log_path}) ..."
        )
        started = time.monotonic()
        with log_path.open("ab") as log:
            # One OpenMP thread unless the caller chose: the example models are small, and beside
            # other busy processes (MLflow's server, a second test worker) two threads wait for
            # each other at every barrier (runtime/modelserver/threads.py, bench/threads.py).
            env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
            result = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT, timeout=600, env=env)
        if result.returncode != 0:
            raise SeedError(
                f"training {name} failed with code {result.returncode}\n"
                f"--- last lines of {log_path} ---\n{log_tail(log_path)}"
            )
        trained[name] = count - have
        say(f"  registered {name} versions {have + 1}..{count} with lineage in {time.monotonic() - started:.1f} s")
    aliases = [(v.uri.name, v.uri.alias) for m in layout.spec.models.values() for v in m.variants if v.uri.alias]
    for name, alias in aliases:
        try:
            client.get_model_version_by_alias(name, alias)
        except Exception as exc:  # MlflowException: the registry says the alias does not exist
            raise SeedError(
                f"models:/{name}@{alias} does not exist in the local registry; set the alias or name a version"
            ) from exc
    return trained


@env_defaults(LOCAL_REGISTRY_ENV)  # for these calls only, not the rest of the process
def download_profiles(layout: Layout, say: Callable[[str], None] = print) -> dict[str, dict[str, str]]:
    """model -> variant -> local path of its reference profile (variants without one are left out)."""
    import mlflow

    client = _client(layout)
    profiles: dict[str, dict[str, str]] = {}
    for model, spec in layout.spec.models.items():
        for variant in spec.variants:
            uri = variant.uri
            if uri.version is not None:
                version = client.get_model_version(uri.name, str(uri.version))
            else:
                version = client.get_model_version_by_alias(uri.name, uri.alias)
            target = layout.profiles_dir / model / variant.variant_name
            target.mkdir(parents=True, exist_ok=True)
            try:
                path = mlflow.artifacts.download_artifacts(
                    run_id=version.run_id,
                    artifact_path=PROFILE_ARTIFACT,
                    dst_path=str(target),
                    tracking_uri=layout.tracking_uri,
                )
            except Exception as exc:  # the run has no profile: the monitor cannot watch this variant
                reason = type(exc).__name__
                say(f"  warning: {variant.model} has no {PROFILE_ARTIFACT} ({reason}); no drift checks for it")
                continue
            profiles.setdefault(model, {})[variant.variant_name] = str(Path(path))
    return profiles
