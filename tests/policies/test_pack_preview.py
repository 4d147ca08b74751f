"""The pack judges a real preview: run as the CLI runs it, fed what the engine sends.

The pack is started the way the Python language host starts it (``python -u -m pulumi.policy
<engine> <pack dir>`` in the pack folder, the stack's decrypted config in ``PULUMI_CONFIG``),
configured with ``policies/config/prod.json`` as ``--policy-pack-config`` sends it, and asked
through pulumi-policy's own analyzer servicer. The requests are the real program's resources,
shaped as a first preview of a new stack and a preview of a deployed one send them
(``tests/policies/previews.py``).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2

from runtime.spec import validate_config
from tests.policies.packs import running_pack

pytestmark = pytest.mark.slow  # the pack and four program runs, each its own process

ROOT = Path(__file__).resolve().parents[2]
PREVIEWS = ("first", "steady")
CANARY_60 = (
    '{model: "models:/fraud/5", role: primary, weight: 90}\n        - {model: "models:/fraud/6", role: canary, weight: 10}',
    '{model: "models:/fraud/5", role: primary, weight: 40}\n        - {model: "models:/fraud/6", role: canary, weight: 60}',
)
NO_FALLBACK = ('      fallback: {value: "popular-items"}\n', "")
LEVELS = {"advisory": analyzer_pb2.ADVISORY, "mandatory": analyzer_pb2.MANDATORY, "disabled": analyzer_pb2.DISABLED}


@pytest.fixture(scope="module")
def stacks(tmp_path_factory) -> dict[str, Path]:
    """``shipped``: the stack files, plus ``leaky`` (a plaintext secret in config); ``edited``: prod
    with a 60% canary and a model without a fallback."""
    folders = {name: tmp_path_factory.mktemp(name) for name in ("shipped", "edited")}
    for folder in folders.values():
        for path in (ROOT / "stacks").iterdir():
            shutil.copy(path, folder / path.name)
    prod = (ROOT / "stacks" / "Pulumi.prod.yaml").read_text()
    edited = prod
    for old, new in (CANARY_60, NO_FALLBACK):
        assert edited.count(old) == 1, old
        edited = edited.replace(old, new)
    (folders["edited"] / "Pulumi.prod.yaml").write_text(edited)
    leaky = prod.replace(
        "  aws:region: us-west-2\n", "  aws:region: us-west-2\n  aws:secretKey: wJalrXUtnFEMIK7MDENG\n", 1
    )
    (folders["shipped"] / "Pulumi.leaky.yaml").write_text(leaky)
    return folders


@pytest.fixture(scope="module")
def shapes(stacks) -> dict[tuple[str, str], dict]:
    """(stacks folder, preview) -> the prod stack's requests, made side by side in subprocesses."""
    running = {
        (folder, kind): subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.policies.previews",
                "--stack",
                "prod",
                "--stacks-dir",
                str(stacks[folder]),
                "--preview",
                kind,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for folder in ("shipped", "edited")
        for kind in PREVIEWS
    }
    found, failed = {}, []
    try:
        for key, process in running.items():
            out, err = process.communicate(timeout=300)
            if process.returncode != 0:
                failed.append(f"{key}: {err.decode()[-2000:]}")
            else:
                found[key] = json.loads(out)
    finally:
        for process in running.values():
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert not failed, "\n".join(failed)
    return found


@pytest.fixture(scope="module")
def analyzer(stacks):
    config, _ = _decrypted_config()
    env = {
        **os.environ,
        "PULUMI_CONFIG": json.dumps(config),
        "PULUMI_PROJECT": "ml-serving",
        "PULUMI_STACK": "prod",
        "PULUMI_DRY_RUN": "true",
        "ML_SERVING_STACKS_DIR": str(stacks["shipped"]),
    }
    command = [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", str(ROOT / "policies")]
    with running_pack(command, env) as stub:
        stub.Configure(_configure_request(ROOT / "policies" / "config" / "prod.json"))
        yield stub


def _decrypted_config() -> tuple[dict[str, str], list[str]]:
    """The prod config as the language host hands it to a pack: every value a string, secrets decrypted."""
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.prod.yaml").read_text())
    config = {k: v if isinstance(v, str) else json.dumps(v) for k, v in document["config"].items()}
    config["ml-serving:gatewayTokens"] = "tok-a,tok-b"
    return config, ["ml-serving:gatewayTokens"]


def _configure_request(path: Path) -> analyzer_pb2.ConfigureAnalyzerRequest:
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, entry in json.loads(path.read_text()).items():
        properties = struct_pb2.Struct()
        properties.update({k: v for k, v in entry.items() if k != "enforcementLevel"})
        request.policyConfig[name].CopyFrom(
            analyzer_pb2.PolicyConfig(enforcementLevel=LEVELS[entry["enforcementLevel"]], properties=properties)
        )
    return request


class Outcome:
    """Every diagnostic and not-applicable answer of one preview."""

    def __init__(self) -> None:
        self.diagnostics: list[analyzer_pb2.AnalyzeDiagnostic] = []
        self.not_applicable: list[str] = []

    def add(self, response: analyzer_pb2.AnalyzeResponse) -> None:
        self.diagnostics.extend(response.diagnostics)
        self.not_applicable.extend(n.policy_name for n in response.not_applicable)

    def mandatory(self) -> list[tuple[str, str]]:
        return sorted({(d.policyName, d.urn) for d in self.diagnostics if d.enforcementLevel == analyzer_pb2.MANDATORY})

    def text(self) -> str:
        return "\n".join(f"[{d.enforcementLevel}] {d.policyName} {d.urn}: {d.message}" for d in self.diagnostics)


def preview(analyzer, shape: dict, drop: str | None = None, edit=None) -> Outcome:
    """Send one preview's requests, without the resource named ``drop``; ``edit(name, props)``
    may change a resource's inputs (and, where it has any, its outputs)."""
    outcome = Outcome()
    shape = copy.deepcopy(shape)
    for request in shape["analyze"]:
        if request.get("name") == drop:
            continue
        if edit:
            edit(request.get("name"), request.setdefault("properties", {}))
        outcome.add(analyzer.Analyze(json_format.ParseDict(request, analyzer_pb2.AnalyzeRequest())))
    resources = [r for r in shape["stack"]["resources"] if r["name"] != drop]
    for resource in resources:
        if edit and resource.get("properties"):
            edit(resource["name"], resource["properties"])
    stack = json_format.ParseDict({"resources": resources}, analyzer_pb2.AnalyzeStackRequest())
    outcome.add(analyzer.AnalyzeStack(stack))
    return outcome


@pytest.mark.parametrize("kind", PREVIEWS)
def test_compliant_prod_passes(analyzer, shapes, kind):
    outcome = preview(analyzer, shapes["shipped", kind])
    assert outcome.mandatory() == [], outcome.text()
    # cost-budget prices the stack from outputs, which a first preview does not have yet.
    cannot_run = {d.policyName for d in outcome.diagnostics if "can't run policy" in d.message}
    assert cannot_run <= ({"cost-budget"} if kind == "first" else set()), outcome.text()
    if kind == "first":
        # The PeerAuthentication has no outputs yet: the stack rule says so instead of failing.
        assert "istio-mtls-declared" in outcome.not_applicable


@pytest.mark.parametrize("kind", PREVIEWS)
def test_sixty_percent_canary_and_missing_fallback_fail_mandatory(analyzer, shapes, kind):
    outcome = preview(analyzer, shapes["edited", kind])
    gateway_config = (
        "urn:pulumi:prod::ml-serving::ml-serving:index:Gateway$kubernetes:core/v1:ConfigMap::gateway-config"
    )
    assert outcome.mandatory() == [("canary-weight-max", gateway_config), ("fallback-required", gateway_config)], (
        outcome.text()
    )
    messages = {d.policyName: d.message for d in outcome.diagnostics}
    assert "= 60% of live traffic" in messages["canary-weight-max"]
    assert "ml-serving:models.recommender: no fallback" in messages["fallback-required"]


@pytest.mark.parametrize("kind", PREVIEWS)
def test_unencrypted_bucket_fails_mandatory(analyzer, shapes, kind):
    outcome = preview(analyzer, shapes["shipped", kind], drop="artifacts-encryption")
    bucket = "urn:pulumi:prod::ml-serving::ml-serving:index:ArtifactStore$aws:s3/bucket:Bucket::artifacts-bucket"
    assert outcome.mandatory() == [("s3-bucket-secure", bucket)], outcome.text()
    assert "no default server-side encryption" in outcome.text()


@pytest.mark.parametrize("kind", PREVIEWS)
def test_permissive_mesh_fails_mandatory(analyzer, shapes, kind):
    def permissive(name, props):
        if name == "mesh-strict-mtls":
            props["spec"]["mtls"]["mode"] = "PERMISSIVE"

    outcome = preview(analyzer, shapes["shipped", kind], edit=permissive)
    rules = {rule for rule, _ in outcome.mandatory()}
    # The PeerAuthentication's inputs fail in both; with outputs known, the stack has no STRICT one either.
    assert rules == ({"istio-mtls-strict"} if kind == "first" else {"istio-mtls-strict", "istio-mtls-declared"}), (
        outcome.text()
    )
    assert "sets mTLS mode PERMISSIVE" in outcome.text()


@pytest.mark.parametrize("kind", PREVIEWS)
def test_a_cloud_stack_without_its_rollout_spec_fails_mandatory(analyzer, shapes, kind):
    outcome = preview(analyzer, shapes["shipped", kind], drop="gateway-config")
    assert [rule for rule, _ in outcome.mandatory()] == ["rollout-spec-found"], outcome.text()


def test_plaintext_secret_in_the_stack_file_fails_in_the_pack(analyzer):
    leaky = "urn:pulumi:leaky::ml-serving::pulumi:pulumi:Stack::ml-serving-leaky"
    outcome = Outcome()
    outcome.add(
        analyzer.Analyze(analyzer_pb2.AnalyzeRequest(type="pulumi:pulumi:Stack", name="ml-serving-leaky", urn=leaky))
    )
    assert outcome.mandatory() == [("no-plaintext-secrets", "")], outcome.text()
    assert "aws:secretKey holds a plaintext value" in outcome.text() and "wJalrXUtnFEMIK7MDENG" not in outcome.text()


@pytest.mark.parametrize("kind", PREVIEWS)
def test_a_bucket_encryption_without_an_algorithm_fails_on_its_own_inputs(analyzer, shapes, kind):
    def no_algorithm(name, props):
        if name == "artifacts-encryption":
            props["rules"][0]["applyServerSideEncryptionByDefault"].pop("sseAlgorithm")

    outcome = preview(analyzer, shapes["shipped", kind], edit=no_algorithm)
    bucket = "urn:pulumi:prod::ml-serving::ml-serving:index:ArtifactStore$aws:s3/bucket:Bucket::artifacts-bucket"
    # Analyze judges the setting before its step (it blocks `up`; the engine puts the diagnostic on
    # the resource analyzed, so it carries no URN of its own); the stack rule relates it to the bucket.
    assert outcome.mandatory() == [("s3-bucket-secure", bucket), ("s3-bucket-settings", "")], outcome.text()


def test_promotion_path_judges_what_staging_serves(analyzer, shapes, tmp_path):
    # The workflow hands the pack staging's specJson output (scripts/policy-config.sh): a prod
    # canary staging does not serve yet fails, whatever the staging stack file in the PR says.
    staging = yaml.safe_load((ROOT / "stacks" / "Pulumi.staging.yaml").read_text())["config"]
    staging["ml-serving:models"]["fraud"]["variants"] = [{"model": "models:/fraud/5", "role": "primary", "weight": 100}]
    served = tmp_path / "staging-served-spec.json"
    served.write_text(validate_config(staging, "staging").model_dump_json(by_alias=True))
    config = tmp_path / "prod.json"
    subprocess.run(
        [str(ROOT / "scripts" / "policy-config.sh"), "prod", str(config)],
        check=True,
        capture_output=True,
        timeout=60,
        env={"PATH": os.environ["PATH"], "STAGING_SPEC": served.read_text()},
    )
    analyzer.Configure(_configure_request(config))
    try:
        outcome = preview(analyzer, shapes["shipped", "first"])
    finally:
        analyzer.Configure(_configure_request(ROOT / "policies" / "config" / "prod.json"))
    gateway_config = (
        "urn:pulumi:prod::ml-serving::ml-serving:index:Gateway$kubernetes:core/v1:ConfigMap::gateway-config"
    )
    assert outcome.mandatory() == [("promotion-path", gateway_config)], outcome.text()
    assert "canary v6 (models:/fraud/6) takes 10% of live traffic in prod but the spec staging serves" in outcome.text()
