"""Model locks built from a stack's spec for component tests (the registry is tested elsewhere)."""

from __future__ import annotations

import hashlib

from runtime.registry.lock import LockedVersion, ModelLock, stack_uris
from runtime.spec import StackSpec, parse_model_uri


def lock_for(spec: StackSpec, alias_versions: dict[str, int] | None = None) -> ModelLock:
    """A lock pinning every URI of ``spec``; an alias pins to ``alias_versions[alias]`` (default 1)."""
    versions = {}
    for _, uri in stack_uris(spec):
        parsed = parse_model_uri(uri)
        number = parsed.version
        if number is None:
            number = (alias_versions or {}).get(parsed.alias or "", 1)
        run = hashlib.sha256(f"{parsed.name}/{number}".encode()).hexdigest()[:32]
        versions[uri] = LockedVersion(
            uri=uri,
            name=parsed.name,
            version=number,
            alias=parsed.alias,
            run_id=run,
            git_commit=hashlib.sha1(run.encode()).hexdigest(),
            dataset_digest=run[:8],
            dataset_name=f"{parsed.name}-training",
            dataset_source=f"synthetic://{parsed.name}?seed={number}",
            artifact_uri=f"mlflow-artifacts:/1/models/m-{run}/artifacts",
            storage_uri=f"mlflow-artifacts:/1/models/m-{run}/artifacts",
            profile_uri=f"mlflow-artifacts:/1/{run}/artifacts/reference_profile.json",
        )
    return ModelLock(
        stack=spec.stack, tracking_uri="http://127.0.0.1:5000", stack_uris=sorted(versions), versions=versions
    )
