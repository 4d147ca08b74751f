"""Resolve a stack's ``models:/`` URIs through the MLflow client into a ``ModelLock``.

Fails fast and clearly: an unreachable registry, an unknown model, version or alias, and a
version without lineage (no git commit or no training dataset) each stop the lock with one
message naming the stack, the model, the URI and what to do.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from runtime.errors import LockError
from runtime.registry.lock import LockedVersion, ModelLock, lock_command, stack_uris, storage_location
from runtime.registry.register import (
    DATASET_CONTEXT,
    DATASET_SOURCE_TAG,
    GIT_COMMIT_TAG,
    GIT_DIRTY_TAG,
    PROFILE_ARTIFACT,
)
from runtime.spec import StackSpec, parse_model_uri

__all__ = ["resolve_lock", "env_defaults", "FAST_FAIL_ENV"]

FAST_FAIL_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}
"""MLflow's client retries for minutes by default; a lock should say at once that it cannot reach."""


@contextmanager
def env_defaults(values: dict[str, str]) -> Iterator[None]:
    """``values`` in the environment where it sets none of them, for the block (or the decorated
    call) only: what a caller set stays, and nothing is left behind for the rest of the process."""
    saved = {key: os.environ.get(key) for key in values}
    for key, value in values.items():
        os.environ.setdefault(key, value)
    try:
        yield
    finally:
        for key, before in saved.items():
            if before is None:
                os.environ.pop(key, None)


def _reason(exc: BaseException) -> str:
    """The gist of a failed request: MLflow wraps the connection error in a long message."""
    text = " ".join(str(exc).split())
    cause = re.search(r"Caused by (\w+)", text)
    if cause:
        return f"connection failed ({cause[1]})"
    return text if len(text) <= 200 else f"{text[:200]}..."


def _dataset(run, where: str, stack: str) -> tuple[str, str, str]:
    import json

    inputs = [d for d in run.inputs.dataset_inputs] if run.inputs else []
    training = [d for d in inputs if any(t.key == "mlflow.data.context" and t.value == DATASET_CONTEXT for t in d.tags)]
    chosen = (training or inputs or [None])[0]
    if chosen is None:
        raise LockError(
            f"{where} has no lineage: its run {run.info.run_id} logged no training dataset; "
            f"register it with runtime.registry.register_model, then run `{lock_command(stack)}`"
        )
    dataset = chosen.dataset
    source = dataset.source
    if dataset.source_type == "code":
        source = json.loads(source or "{}").get("tags", {}).get(DATASET_SOURCE_TAG, source)
    return dataset.digest, dataset.name, source


def _resolve_one(client, spec: StackSpec, model: str, uri: str, destination: str | None) -> LockedVersion:
    from mlflow.exceptions import MlflowException

    parsed = parse_model_uri(uri)
    where = f"stack '{spec.stack}': model '{model}': {uri}"
    try:
        client.get_registered_model(parsed.name)
    except MlflowException:
        raise LockError(
            f"{where}: the registry has no model named '{parsed.name}'; register it "
            f"(e.g. examples/train_fraud.py) or fix the stack file, then run `{lock_command(spec.stack)}`"
        ) from None
    try:
        if parsed.alias is not None:
            version = client.get_model_version_by_alias(parsed.name, parsed.alias)
        else:
            version = client.get_model_version(parsed.name, str(parsed.version))
    except MlflowException:
        what = f"alias '{parsed.alias}'" if parsed.alias else f"version {parsed.version}"
        raise LockError(
            f"{where}: model '{parsed.name}' has no {what} in the registry; fix the stack file or register it, "
            f"then run `{lock_command(spec.stack)}`"
        ) from None
    if not version.run_id:
        raise LockError(f"{where} has no lineage: version {version.version} was registered without a run")
    run = client.get_run(version.run_id)
    commit = run.data.tags.get(GIT_COMMIT_TAG)
    if not commit:
        raise LockError(
            f"{where} has no lineage: run {run.info.run_id} of version {version.version} has no git commit "
            f"({GIT_COMMIT_TAG}); register it with runtime.registry.register_model, then run `{lock_command(spec.stack)}`"
        )
    digest, dataset_name, source = _dataset(run, f"{where} (version {version.version})", spec.stack)
    artifact_uri = client.get_model_version_download_uri(parsed.name, version.version)
    profiles = [a.path for a in client.list_artifacts(run.info.run_id) if a.path == PROFILE_ARTIFACT]
    profile = f"{run.info.artifact_uri.rstrip('/')}/{PROFILE_ARTIFACT}" if profiles else None
    return LockedVersion(
        uri=uri,
        name=parsed.name,
        version=int(version.version),
        alias=parsed.alias,
        run_id=run.info.run_id,
        git_commit=commit,
        git_dirty={"true": True, "false": False}.get(run.data.tags.get(GIT_DIRTY_TAG, "")),
        dataset_digest=digest,
        dataset_name=dataset_name,
        dataset_source=source,
        artifact_uri=artifact_uri,
        storage_uri=storage_location(artifact_uri, destination),
        profile_uri=profile,
    )


def resolve_lock(
    spec: StackSpec,
    tracking_uri: str | None = None,
    artifacts_destination: str | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> ModelLock:
    """Pin every URI of ``spec`` against the registry at ``tracking_uri`` (the stack's by default)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    tracking_uri = tracking_uri or spec.platform.mlflow.tracking_uri
    with env_defaults(FAST_FAIL_ENV):
        client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        try:
            client.search_registered_models(max_results=1)
        except (MlflowException, OSError) as exc:
            reason = _reason(exc)
            models = ", ".join(sorted(spec.models))
            raise LockError(
                f"stack '{spec.stack}': cannot reach the MLflow registry at {tracking_uri} "
                f"(models {models}): {reason}; start it or pass --tracking-uri, then run `{lock_command(spec.stack)}`"
            ) from None
        versions = {}
        for model, uri in stack_uris(spec):
            locked = _resolve_one(client, spec, model, uri, artifacts_destination)
            progress(f"{model}: {uri} -> version {locked.version} run {locked.run_id} commit {locked.git_commit[:12]}")
            versions[uri] = locked
    return ModelLock(
        stack=spec.stack,
        tracking_uri=tracking_uri,
        artifacts_destination=artifacts_destination,
        stack_uris=sorted(versions),
        versions=versions,
    )
