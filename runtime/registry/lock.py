"""The model lock of a stack: every ``models:/`` URI of the stack file pinned with its lineage.

``ml-serving lock --stack <name>`` resolves each variant's URI through the MLflow
client (an alias is pinned to the version it points at now) and writes
``stacks/models.<stack>.lock.json`` beside the stack file. The Pulumi program and the offline
render read this file, never the registry, so a preview is deterministic and needs no registry.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from runtime.errors import LockError, validation_problems
from runtime.spec import STACKS_DIR, StackSpec, parse_model_uri

__all__ = [
    "LockedVersion",
    "ModelLock",
    "lock_path",
    "lock_command",
    "read_lock",
    "write_lock",
    "check_lock",
    "load_checked_lock",
    "stack_uris",
    "storage_location",
]

LOCK_FORMAT = 1


class _Lock(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)


class LockedVersion(_Lock):
    """One ``models:/`` URI pinned to a registered version and where it came from."""

    uri: str
    """The URI as the stack file names it."""
    name: str
    """Registered model name."""
    version: int
    """The pinned version number (an alias is resolved to it at lock time)."""
    alias: str | None = None
    """The alias the URI names, if any."""
    run_id: str
    """The MLflow run that logged the model."""
    git_commit: str
    """Commit of the training code (the run's ``mlflow.source.git.commit`` tag)."""
    git_dirty: bool | None = None
    """The training code had uncommitted changes at that commit (None: not recorded)."""
    dataset_digest: str
    """MLflow's digest of the training dataset input."""
    dataset_name: str
    dataset_source: str
    """Where the training data came from, as logged."""
    artifact_uri: str
    """The model version's artifacts as the registry reports them."""
    storage_uri: str
    """Where the serving runtime fetches the model: ``artifact_uri`` with ``mlflow-artifacts:/``
    resolved against the artifacts destination given at lock time, else ``artifact_uri`` itself
    (the cluster then resolves it against its own artifact bucket)."""
    profile_uri: str | None = None
    """The drift reference profile logged with the run, as the registry reports it (the drift
    monitor fetches it through the tracking server)."""


class ModelLock(_Lock):
    format: int = LOCK_FORMAT
    stack: str
    tracking_uri: str
    """The registry the URIs were resolved against."""
    artifacts_destination: str | None = None
    """The MLflow server's artifacts destination used to resolve ``mlflow-artifacts:/`` URIs."""
    stack_uris: list[str]
    """Every model URI the stack file named when it was locked, sorted."""
    versions: dict[str, LockedVersion]
    """URI -> pinned version."""
    stand_in: str | None = None
    """Set on a lock that was not resolved against the stack's own registry (the shipped examples):
    where it came from. The deployability check reports such a lock on every run."""


def lock_path(stack: str, stacks_dir: Path | None = None) -> Path:
    return (stacks_dir or STACKS_DIR) / f"models.{stack}.lock.json"


def lock_command(stack: str) -> str:
    return f"ml-serving lock --stack {stack}"


def stack_uris(spec: StackSpec) -> list[tuple[str, str]]:
    """(model key, URI) of every variant, in stack-file order, each URI once."""
    seen: dict[str, str] = {}
    for model, rollout in spec.models.items():
        for variant in rollout.variants:
            seen.setdefault(variant.model, model)
    return [(model, uri) for uri, model in seen.items()]


def storage_location(uri: str, artifacts_destination: str | None) -> str:
    """Resolve ``mlflow-artifacts:/<path>`` (or ``mlflow-artifacts://host/<path>``) to the server's
    artifacts destination; any other URI is already where the artifacts are."""
    if not artifacts_destination or not uri.startswith("mlflow-artifacts:"):
        return uri
    rest = uri.removeprefix("mlflow-artifacts:")
    if rest.startswith("//"):
        rest = "/" + rest[2:].split("/", 1)[1] if "/" in rest[2:] else "/"
    return f"{artifacts_destination.rstrip('/')}/{rest.lstrip('/')}"


def write_lock(lock: ModelLock, path: Path) -> None:
    document = lock.model_dump(mode="json", by_alias=True, exclude_none=False)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


def read_lock(stack: str, stacks_dir: Path | None = None) -> ModelLock:
    path = lock_path(stack, stacks_dir)
    try:
        return ModelLock.model_validate_json(path.read_text())
    except FileNotFoundError:
        raise LockError(
            f"stack '{stack}': no model lock {path.name} beside the stack file; run `{lock_command(stack)}`"
        ) from None
    except ValidationError as exc:
        first = validation_problems(exc.errors(include_url=False), root="lock")[0]
        raise LockError(
            f"stack '{stack}': {path.name} is not a valid model lock ({first}); "
            f"run `{lock_command(stack)}` to rewrite it"
        ) from None


def check_lock(spec: StackSpec, lock: ModelLock) -> None:
    """Refuse a lock that does not pin exactly the URIs the stack file names now."""
    named = stack_uris(spec)
    for model, uri in named:
        if uri not in lock.versions:
            raise LockError(
                f"stack '{spec.stack}': model '{model}' names {uri}, which is missing from "
                f"models.{spec.stack}.lock.json; run `{lock_command(spec.stack)}`"
            )
    current = sorted(uri for _, uri in named)
    if lock.format != LOCK_FORMAT:
        raise LockError(
            f"stack '{spec.stack}': models.{spec.stack}.lock.json has format {lock.format}; this version reads "
            f"format {LOCK_FORMAT}; run `{lock_command(spec.stack)}`"
        )
    for model, uri in named:
        _check_entry(spec.stack, model, uri, lock.versions[uri])
    if lock.stack != spec.stack or lock.stack_uris != current or set(lock.versions) != set(current):
        gone = sorted(set(lock.stack_uris) - set(current)) or sorted(set(lock.versions) - set(current))
        models = ", ".join(sorted(spec.models))
        raise LockError(
            f"stack '{spec.stack}': models.{spec.stack}.lock.json is older than the stack file "
            f"(it was locked for {', '.join(gone) or lock.stack_uris}, which the stack file no longer names; "
            f"models {models}); run `{lock_command(spec.stack)}`"
        )


def _check_entry(stack: str, model: str, uri: str, entry: LockedVersion) -> None:
    """An entry must pin the URI it is filed under: a hand-edited lock must not deploy another model."""
    parsed = parse_model_uri(uri)
    wrong = []
    if entry.uri != uri:
        wrong.append(f"uri {entry.uri!r}")
    if entry.name != parsed.name:
        wrong.append(f"name {entry.name!r}")
    if parsed.version is not None and entry.version != parsed.version:
        wrong.append(f"version {entry.version}")
    if wrong:
        raise LockError(
            f"stack '{stack}': model '{model}': the lock entry for {uri} records {', '.join(wrong)}, which is not "
            f"what {uri} names; run `{lock_command(stack)}`"
        )


def load_checked_lock(spec: StackSpec, stacks_dir: Path | None = None) -> ModelLock:
    """The stack's lock, checked against the stack file's URIs."""
    lock = read_lock(spec.stack, stacks_dir)
    check_lock(spec, lock)
    return lock
