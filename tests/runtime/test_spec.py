"""The rollout spec: every shipped stack validates; each invariant fails with a clear message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from runtime.errors import SpecError
from runtime.spec import STACKS_DIR, StickyRoutingSpec, load_stack, parse_model_uri, read_stack_config
from tests.runtime.spec.configs import problems_of, stack_config

STACKS = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in STACKS_DIR.glob("Pulumi.*.yaml"))


def test_the_four_stacks_are_shipped():
    assert set(STACKS) >= {"local", "dev", "staging", "prod"}


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_file_validates(stack):
    spec = load_stack(stack)
    assert spec.stack == stack
    for name, model in spec.models.items():
        assert sum(v.weight for v in model.live_variants) == pytest.approx(100), name


def test_prod_exercises_the_whole_spec():
    spec = load_stack("prod")
    fraud = spec.models["fraud"]
    assert [v.role for v in fraud.variants] == ["primary", "canary", "shadow"]
    assert [v.weight for v in fraud.live_variants] == [90, 10]
    assert fraud.latency_budget_ms == 50 and fraud.fallback.value == 0
    assert spec.models["recommender"].routing.policy == StickyRoutingSpec(
        type="sticky", input="user_id", header="x-user-id"
    )
    vision = spec.models["vision"]
    assert vision.resources.gpu == 1 and vision.batching.max_batch_size == 64
    assert spec.platform.cluster.gpu_nodes.min == 0


def test_secrets_are_secure_values_only():
    for stack in STACKS:
        config, secrets = read_stack_config(STACKS_DIR / f"Pulumi.{stack}.yaml")
        for key in config:
            if any(word in key.lower() for word in ("token", "password", "secret", "webhook")):
                assert key in secrets, f"{stack}: {key} must be a Pulumi secret"


# One failing example per invariant, with the message it must give.
INVARIANTS = [
    (
        "two primaries",
        lambda c: c["ml-serving:models"]["fraud"]["variants"][1].update(role="primary"),
        "ml-serving:models.fraud.variants: exactly one variant must have role 'primary' (found 2: variants[0], variants[1])",
    ),
    (
        "no primary",
        lambda c: c["ml-serving:models"]["fraud"]["variants"][0].update(role="canary"),
        "ml-serving:models.fraud.variants: exactly one variant must have role 'primary' (found 0: none)",
    ),
    (
        "weights not 100",
        lambda c: c["ml-serving:models"]["fraud"]["variants"][1].update(weight=20),
        "ml-serving:models.fraud.variants: weights of primary and canary variants must sum to 100 "
        "(got variants[0] 90 + variants[1] 20 = 110)",
    ),
    (
        "weight above 100",
        lambda c: c["ml-serving:models"]["fraud"]["variants"][1].update(weight=110),
        "ml-serving:models.fraud.variants[1].weight: input should be less than or equal to 100 (got 110)",
    ),
    (
        "shadow with weight",
        lambda c: c["ml-serving:models"]["fraud"]["variants"][2].update(weight=5),
        "ml-serving:models.fraud.variants[2].weight: a shadow variant takes no weight",
    ),
    (
        "shadow without mirrorPercent",
        lambda c: c["ml-serving:models"]["fraud"]["variants"][2].pop("mirrorPercent"),
        "ml-serving:models.fraud.variants[2].mirrorPercent: a shadow variant needs mirrorPercent, a number in (0, 100]",
    ),
    (
        "mirrorPercent zero",
        lambda c: c["ml-serving:models"]["fraud"]["variants"][2].update(mirrorPercent=0),
        "ml-serving:models.fraud.variants[2].mirrorPercent: input should be greater than 0 (got 0)",
    ),
    (
        "mirrorPercent above 100",
        lambda c: c["ml-serving:models"]["fraud"]["variants"][2].update(mirrorPercent=150),
        "ml-serving:models.fraud.variants[2].mirrorPercent: input should be less than or equal to 100 (got 150)",
    ),
    (
        "canary with mirrorPercent",
        lambda c: c["ml-serving:models"]["fraud"]["variants"][1].update(mirrorPercent=10),
        "ml-serving:models.fraud.variants[1].mirrorPercent: only shadow variants take mirrorPercent",
    ),
    (
        "bad model uri",
        lambda c: c["ml-serving:models"]["fraud"]["variants"][0].update(model="s3://bucket/fraud"),
        "ml-serving:models.fraud.variants[0].model: expected 'models:/<name>/<version>' or 'models:/<name>@<alias>', "
        "got 's3://bucket/fraud'",
    ),
    (
        "budget not positive",
        lambda c: c["ml-serving:models"]["fraud"].update(latencyBudgetMs=0),
        "ml-serving:models.fraud.latencyBudgetMs: input should be greater than 0 (got 0)",
    ),
    (
        "batch size not positive",
        lambda c: c["ml-serving:models"]["fraud"]["batching"].update(maxBatchSize=0),
        "ml-serving:models.fraud.batching.maxBatchSize: input should be greater than 0 (got 0)",
    ),
    (
        "batch wait not positive",
        lambda c: c["ml-serving:models"]["fraud"]["batching"].update(maxLatencyMs=-5),
        "ml-serving:models.fraud.batching.maxLatencyMs: input should be greater than 0 (got -5)",
    ),
    (
        "misspelt key",
        lambda c: c["ml-serving:models"]["fraud"].update(latencyBudget=50),
        "ml-serving:models.fraud.latencyBudget: unknown key (check the spelling; keys are camelCase)",
    ),
    (
        "duplicate variant names",
        lambda c: c["ml-serving:models"]["fraud"]["variants"][1].update(name="v5"),
        "ml-serving:models.fraud.variants[1].name: variant name 'v5' is already used by variants[0]",
    ),
    (
        "unpinned chart",
        lambda c: c["ml-serving:platform"].update(versions={"istio": "latest"}),
        "ml-serving:platform.versions.istio: expected a pinned version such as '1.28.1', got 'latest'",
    ),
    (
        "unpinned image",
        lambda c: c["ml-serving:platform"]["images"].update(runtime="ghcr.io/ml-serving/runtime"),
        "ml-serving:platform.images.runtime: images.runtime must be pinned to a version tag or digest",
    ),
    (
        "gpu model without gpu nodes",
        lambda c: c["ml-serving:platform"]["cluster"].pop("gpuNodes"),
        "ml-serving:models.vision.resources.gpu: a GPU model needs platform.cluster.gpuNodes on provider 'eks'",
    ),
    (
        "autoscaling bounds",
        lambda c: c["ml-serving:models"]["fraud"]["autoscaling"].update(min=20),
        "ml-serving:models.fraud.autoscaling.min: min (20) must not exceed max (12)",
    ),
    (
        "fallback rule operand",
        lambda c: c["ml-serving:models"]["fraud"]["fallback"]["rules"][0]["when"].update(op="in"),
        "ml-serving:models.fraud.fallback.rules[0].when.value: op 'in' takes a list",
    ),
    (
        "breaker minimum beyond its window",
        lambda c: c["ml-serving:models"]["fraud"].update(
            circuitBreaker={"failureRatePercent": 50, "windowCalls": 10, "minimumCalls": 20}
        ),
        "ml-serving:models.fraud.circuitBreaker.minimumCalls: is 20 but the window holds 10 calls; expected at most windowCalls",
    ),
    (
        "private endpoint on a VPC the program creates",
        lambda c: c["ml-serving:platform"]["cluster"].update(endpointPublicAccess=False, publicAccessCidrs=[]),
        "ml-serving:platform.cluster.endpointPublicAccess: a private-only API endpoint cannot be reached from where "
        "`pulumi up` runs; set endpointPublicAccess: true with publicAccessCidrs",
    ),
    (
        "runner in a VPC the program creates",
        lambda c: c["ml-serving:platform"]["cluster"].update(runnerInVpc=True),
        "ml-serving:platform.cluster.runnerInVpc: runnerInVpc needs vpc.privateSubnetIds of the existing VPC the runner is in",
    ),
    (
        "public access CIDR",
        lambda c: c["ml-serving:platform"]["cluster"].update(publicAccessCidrs=["203.0.113.0"]),
        "ml-serving:platform.cluster.publicAccessCidrs[0]: string should match pattern",
    ),
    (
        "unknown project key",
        lambda c: c.update({"ml-serving:modles": {}}),
        "ml-serving:modles: unknown key; expected one of",
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [(m, e) for _, m, e in INVARIANTS], ids=[i for i, _, _ in INVARIANTS])
def test_invariant_violation_names_the_key_path(mutate, expected):
    config = stack_config()
    mutate(config)
    problems = problems_of(config)
    assert len(problems) == 1, problems
    assert problems[0].startswith("stacks/Pulumi.prod.yaml: "), problems[0]
    assert expected in problems[0]


def test_one_line_per_problem():
    config = stack_config()
    config["ml-serving:models"]["fraud"]["latencyBudgetMs"] = -1
    config["ml-serving:models"]["recommender"]["variants"][0]["model"] = "recsys"
    config["ml-serving:platform"]["cluster"]["provider"] = "gke"
    problems = problems_of(config)
    assert len(problems) == 3, problems
    assert any("ml-serving:models.fraud.latencyBudgetMs" in p for p in problems)
    assert any("ml-serving:models.recommender.variants[0].model" in p for p in problems)
    assert any("ml-serving:platform.cluster.provider" in p and "'eks' or 'existing'" in p for p in problems)
    assert all("Traceback" not in p and "pydantic" not in p for p in problems)


def test_missing_sections_are_named():
    problems = problems_of({"aws:region": "us-west-2"})
    assert problems == [
        "stacks/Pulumi.prod.yaml: ml-serving:platform: required key is missing",
        "stacks/Pulumi.prod.yaml: ml-serving:models: required key is missing",
    ]


def test_unknown_stack_lists_known_ones():
    with pytest.raises(SpecError, match=r"unknown stack 'qa'.*known stacks: dev, local, prod, staging"):
        load_stack("qa")


def test_malformed_yaml_is_one_clear_line(tmp_path: Path):
    (tmp_path / "Pulumi.broken.yaml").write_text("config:\n  ml-serving:platform: [unclosed\n")
    with pytest.raises(SpecError) as caught:
        load_stack("broken", tmp_path)
    assert len(caught.value.problems) == 1
    assert "not valid YAML" in caught.value.problems[0]


def test_secure_values_become_placeholders(tmp_path: Path):
    path = tmp_path / "Pulumi.s.yaml"
    path.write_text(yaml.safe_dump({"config": {"ml-serving:gatewayTokens": {"secure": "AAAB"}, "aws:region": "x"}}))
    config, secrets = read_stack_config(path)
    assert config["ml-serving:gatewayTokens"] == "[secret]"
    assert secrets == {"ml-serving:gatewayTokens"}


@pytest.mark.parametrize(
    ("uri", "name", "version", "alias"),
    [("models:/fraud/3", "fraud", 3, None), ("models:/fraud@champion", "fraud", None, "champion")],
)
def test_model_uri_forms(uri, name, version, alias):
    parsed = parse_model_uri(uri)
    assert (parsed.name, parsed.version, parsed.alias, parsed.uri) == (name, version, alias, uri)


@pytest.mark.parametrize(
    "uri", ["models:/fraud", "models:/fraud/0", "models:/fraud/x", "runs:/abc/model", "models:/@a"]
)
def test_model_uri_rejects(uri):
    with pytest.raises(ValueError, match="expected 'models:/<name>/<version>'"):
        parse_model_uri(uri)


def test_spec_is_frozen():
    spec = load_stack("prod")
    with pytest.raises(Exception, match="frozen"):
        spec.models["fraud"].latency_budget_ms = 10


def test_importing_the_spec_loads_neither_pulumi_nor_fastapi():
    code = (
        "import sys, runtime.spec\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'pulumi', 'fastapi', 'starlette', 'kserve', 'mlflow'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=STACKS_DIR.parent
    )
    assert out.stdout.strip() == ""


def _with_recommender(**changes):
    config = stack_config()
    recommender = config["ml-serving:models"]["recommender"]
    for key, value in changes.items():
        if value is None:
            recommender.pop(key, None)
        else:
            recommender[key] = value
    return config


def test_the_experiment_names_its_arms():
    spec = load_stack("prod").models["recommender"]
    assert spec.arms == ("popular", "als")
    assert spec.experiment.minimum_detectable_lift == 0.05 and spec.experiment.outcome == "click"
    assert load_stack("prod").models["fraud"].arms is None


@pytest.mark.parametrize(
    ("changes", "at", "expected"),
    [
        ({"routing": None}, "ml-serving:models.recommender.routing.policy", "an experiment needs sticky routing"),
        (
            {"variants": [{"model": "models:/recommender-popular/2", "role": "primary", "weight": 100}]},
            "ml-serving:models.recommender.experiment",
            "exactly one canary (found 0)",
        ),
        (
            {
                "variants": [
                    {"model": "models:/a/1", "role": "primary", "weight": 100},
                    {"model": "models:/b/2", "role": "canary", "weight": 0},
                ]
            },
            "ml-serving:models.recommender.variants[1].weight",
            "weights above 0",
        ),
        (
            {"experiment": {"minimumDetectableLift": 0}},
            "ml-serving:models.recommender.experiment.minimumDetectableLift",
            "greater than 0",
        ),
        (
            {"experiment": {"outcome": "purchase"}},
            "ml-serving:models.recommender.experiment.outcome",
            "'click' or 'conversion'",
        ),
    ],
)
def test_experiment_problems_name_the_key(changes, at, expected):
    problems = problems_of(_with_recommender(**changes))
    assert len(problems) == 1 and f"{at}: " in problems[0] and expected in problems[0], problems
