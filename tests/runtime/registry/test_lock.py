"""The model lock: resolve against a real registry, refuse what has no lineage, check at render."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml

from runtime.errors import LockError
from runtime.registry.lock import check_lock, lock_path, read_lock
from runtime.registry.register import GIT_COMMIT_TAG, GIT_DIRTY_TAG
from runtime.registry.resolve import resolve_lock
from runtime.spec import StackSpec, read_stack_config, validate_config
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[3]
LOCK_CMD = "run `ml-serving lock --stack e2e`"
VARIANTS = [
    {"model": "models:/fraud/1", "role": "primary", "weight": 90},
    {"model": "models:/fraud@challenger", "role": "canary", "weight": 10},
    {"model": "models:/fraud/2", "role": "shadow", "mirrorPercent": 100},
]


def stack_config(url: str, variants: list[dict]) -> dict:
    """The dev stack's config with the given fraud variants and this registry as tracking URI."""
    config, _ = read_stack_config(ROOT / "stacks" / "Pulumi.dev.yaml")
    config["ml-serving:platform"]["mlflow"]["trackingUri"] = url
    config["ml-serving:models"] = {"fraud": {**config["ml-serving:models"]["fraud"], "variants": variants}}
    return config


def spec_with(url: str, variants: list[dict]) -> StackSpec:
    return validate_config(stack_config(url, variants), "e2e")


def write_stack(folder: Path, url: str, variants: list[dict]) -> Path:
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    document["config"].update(
        {
            k: v
            for k, v in stack_config(url, variants).items()
            if k.startswith("ml-serving:") and k != "ml-serving:gatewayTokens"
        }
    )
    path = folder / "Pulumi.e2e.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=ROOT, timeout=280)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("models:/nope/1", "stack 'e2e': model 'fraud': models:/nope/1: the registry has no model named 'nope'"),
        (
            "models:/fraud/99",
            "stack 'e2e': model 'fraud': models:/fraud/99: model 'fraud' has no version 99 in the registry",
        ),
        (
            "models:/fraud@nope",
            "stack 'e2e': model 'fraud': models:/fraud@nope: model 'fraud' has no alias 'nope' in the registry",
        ),
    ],
)
def test_unknown_model_version_or_alias_is_refused(registry, uri, expected):
    spec = spec_with(registry.url, [{"model": uri, "role": "primary", "weight": 100}])
    with pytest.raises(LockError) as caught:
        resolve_lock(spec)
    assert caught.value.message.startswith(expected)
    assert caught.value.message.endswith(LOCK_CMD)


def test_unreachable_registry_fails_fast_without_traceback(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    write_stack(tmp_path, url, VARIANTS)
    started = time.monotonic()
    result = run("runtime.registry", "lock", "--stack", "e2e", "--stacks-dir", str(tmp_path))
    assert time.monotonic() - started < 60
    assert result.returncode == 2, result.stderr
    assert f"error: stack 'e2e': cannot reach the MLflow registry at {url} (models fraud)" in result.stderr
    assert LOCK_CMD in result.stderr and "Traceback" not in result.stderr
    assert not lock_path("e2e", tmp_path).exists()


def _bare_version(url: str, tags: dict[str, str], dataset: bool) -> str:
    """A version whose run lacks part of the lineage, as a hand-made registration would."""
    client = mlflow.MlflowClient(tracking_uri=url, registry_uri=url)
    experiment = client.get_experiment_by_name("fraud").experiment_id
    run = client.create_run(experiment, tags=tags)
    if dataset:
        frame = pd.DataFrame({"amount": [1.0, 2.0]})
        with mlflow.start_run(run_id=run.info.run_id):
            mlflow.log_input(mlflow.data.from_pandas(frame, source="s3://bucket/x.csv"), context="training")
    if not dataset:
        client.set_terminated(run.info.run_id)
    return client.create_model_version("fraud", f"{run.info.artifact_uri}/model", run.info.run_id).version


def test_version_without_git_commit_is_refused(registry):
    version = _bare_version(registry.url, {}, dataset=True)
    spec = spec_with(registry.url, [{"model": f"models:/fraud/{version}", "role": "primary", "weight": 100}])
    with pytest.raises(
        LockError, match=rf"models:/fraud/{version} has no lineage: run \w+ of version {version} has no git commit"
    ):
        resolve_lock(spec)


def test_version_without_training_dataset_is_refused(registry):
    version = _bare_version(registry.url, {GIT_COMMIT_TAG: "0" * 40}, dataset=False)
    spec = spec_with(registry.url, [{"model": f"models:/fraud/{version}", "role": "primary", "weight": 100}])
    with pytest.raises(
        LockError, match=rf"models:/fraud/{version} \(version {version}\) has no lineage: .* logged no training dataset"
    ):
        resolve_lock(spec)


@pytest.fixture(scope="module")
def locked(seeded_registry, tmp_path_factory) -> Path:
    """A stack locked against the session registry with the command line."""
    folder = tmp_path_factory.mktemp("stacks")
    write_stack(folder, seeded_registry.url, VARIANTS)
    result = run("runtime.registry", "lock", "--stack", "e2e", "--stacks-dir", str(folder))
    assert result.returncode == 0, result.stderr
    return folder


def test_lock_pins_versions_and_alias_with_their_lineage(registry, locked):
    lock = read_lock("e2e", locked)
    client = mlflow.MlflowClient(tracking_uri=registry.url, registry_uri=registry.url)
    assert lock.stack_uris == ["models:/fraud/1", "models:/fraud/2", "models:/fraud@challenger"]
    challenger = lock.versions["models:/fraud@challenger"]
    assert (challenger.version, challenger.alias) == (3, "challenger")
    for uri, number in [("models:/fraud/1", 1), ("models:/fraud/2", 2), ("models:/fraud@challenger", 3)]:
        pinned, registered = lock.versions[uri], registry.fraud[number]
        assert (pinned.version, pinned.run_id, pinned.git_commit, pinned.dataset_digest, pinned.artifact_uri) == (
            registered.version,
            registered.run_id,
            registered.git_commit,
            registered.dataset_digest,
            registered.artifact_uri,
        ), uri
        assert pinned.dataset_source == registered.dataset_source
        assert pinned.git_dirty == (client.get_run(pinned.run_id).data.tags[GIT_DIRTY_TAG] == "true"), uri
        assert pinned.profile_uri.endswith(f"{registered.run_id}/artifacts/reference_profile.json")


def test_render_serves_exactly_the_locked_versions(registry, locked):
    from components.schema import walk
    from runtime.wiring import LINEAGE_ANNOTATION_PREFIX as P
    from runtime.wiring import GatewayConfig

    result = run("components.render", "--stack", "e2e", "--stacks-dir", str(locked))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    walk(document)  # every Kubernetes object validates; raises listing every problem otherwise
    services = {
        r["inputs"]["metadata"]["name"]: r for r in document["resources"] if r["type"].endswith(":InferenceService")
    }
    assert sorted(services) == ["fraud-challenger", "fraud-v1", "fraud-v2"]
    for name, number in [("fraud-v1", 1), ("fraud-v2", 2), ("fraud-challenger", 3)]:
        registered, resource = registry.fraud[number], services[name]
        notes = resource["inputs"]["metadata"]["annotations"]
        assert notes[f"{P}model-version"] == str(number), resource["urn"]
        assert notes[f"{P}run-id"] == registered.run_id, resource["urn"]
        assert notes[f"{P}git-commit"] == registered.git_commit, resource["urn"]
        assert notes[f"{P}dataset-digest"] == registered.dataset_digest, resource["urn"]
        storage = resource["inputs"]["spec"]["predictor"]["model"]["storageUri"]
        assert storage.startswith("s3://") and storage.endswith(
            registered.artifact_uri.removeprefix("mlflow-artifacts:")
        ), resource["urn"]
    assert services["fraud-challenger"]["inputs"]["metadata"]["annotations"][f"{P}model-alias"] == "challenger"
    # Predictors fetch from the bucket as a read-only identity.
    for resource in services.values():
        assert resource["inputs"]["spec"]["predictor"]["serviceAccountName"] == "ml-serving-predictor", resource["urn"]
    [policy] = [
        r for r in document["resources"] if r["type"] == "aws:iam/rolePolicy:RolePolicy" and "predictor" in r["name"]
    ]
    actions = {a for statement in json.loads(policy["inputs"]["policy"])["Statement"] for a in [statement["Action"]]}
    assert actions == {"s3:GetObject", "s3:ListBucket"}, policy["urn"]
    [config_map] = [
        r
        for r in document["resources"]
        if r["type"] == "kubernetes:core/v1:ConfigMap" and "gateway.json" in (r["inputs"].get("data") or {})
    ]
    config = GatewayConfig.model_validate_json(config_map["inputs"]["data"]["gateway.json"])
    assert config.models["fraud"] == spec_with(registry.url, VARIANTS).models["fraud"], config_map["urn"]
    assert {v: e.url for v, e in config.endpoints["fraud"].items()} == {
        "v1": "http://fraud-v1-predictor.ml-serving.svc.cluster.local",
        "challenger": "http://fraud-challenger-predictor.ml-serving.svc.cluster.local",
        "v2": "http://fraud-v2-predictor.ml-serving.svc.cluster.local",
    }, config_map["urn"]


def test_render_refuses_a_uri_missing_from_the_lock(registry, locked, tmp_path):
    (tmp_path / "models.e2e.lock.json").write_text((locked / "models.e2e.lock.json").read_text())
    write_stack(
        tmp_path, registry.url, [*VARIANTS, {"model": "models:/fraud/3", "role": "shadow", "mirrorPercent": 10}]
    )
    result = run("components.render", "--stack", "e2e", "--stacks-dir", str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        "error: stack 'e2e': model 'fraud' names models:/fraud/3, which is missing from models.e2e.lock.json; "
        "run `ml-serving lock --stack e2e`"
    )


def test_a_lock_older_than_the_stack_file_is_refused(registry, locked):
    # The canary on @challenger was dropped after the lock was written.
    spec = spec_with(registry.url, [{**VARIANTS[0], "weight": 100}, VARIANTS[2]])
    with pytest.raises(LockError) as caught:
        check_lock(spec, read_lock("e2e", locked))
    assert caught.value.message == (
        "stack 'e2e': models.e2e.lock.json is older than the stack file (it was locked for models:/fraud@challenger, "
        "which the stack file no longer names; models fraud); run `ml-serving lock --stack e2e`"
    )


def test_missing_lock_file_names_the_command(registry, tmp_path):
    with pytest.raises(LockError) as caught:
        read_lock("e2e", tmp_path)
    assert caught.value.message == f"stack 'e2e': no model lock models.e2e.lock.json beside the stack file; {LOCK_CMD}"
