"""Check a stack offline, at three levels, from one render: schemas, deployability, policies.

- schemas:        every Kubernetes object against its schema (core types, KServe and Istio CRDs)
- deployability:  what the controllers of a real cluster would do with the render (admission,
                  chart values, scheduling, volumes, load balancers, storage URIs, the lock)
- policies:       every rule of the policy pack, at the levels of policies/config/<stack>.json

Each finding prints as one line on stdout ([level] rule: resource: message); a summary per check
goes to stderr. Exit 1 when any check fails (a schema problem, a deployability error or a
mandatory policy violation), 2 when the stack does not load.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from cli.options import add_stack_options

if TYPE_CHECKING:
    from policies.check import LoadedStack
    from policies.rule import PolicyConfig

HELP = "check a stack offline: schemas, deployability and the policy pack"
EXAMPLES = """\
  ml-serving check --stack prod
  ml-serving check --stack prod --only policies --policy-config policies/config/prod.json
  ml-serving check --stack staging --stacks-dir /tmp/edited-stacks --only deployability
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_stack_options(parser)
    parser.add_argument(
        "--only",
        action="append",
        choices=tuple(CHECKS),
        default=None,
        help="run only this check (repeatable; default: all three)",
    )
    parser.add_argument(
        "--policy-config",
        type=Path,
        default=None,
        metavar="FILE",
        help="pack config with enforcement levels (default: policies/config/<stack>.json)",
    )


def _schemas(loaded: LoadedStack, args: argparse.Namespace) -> bool:
    from components.schema import SchemaViolation, walk

    try:
        report = walk(dict(loaded.document), loaded.spec.platform.cluster.kubernetes_version)
    except SchemaViolation as exc:
        for problem in exc.problems:
            print(f"[error] schemas: {problem}")
        print(f"{loaded.name}: schemas: {len(exc.problems)} problem(s)", file=sys.stderr)
        return False
    unchecked = ", ".join(report.unchecked) or "none"
    print(
        f"{loaded.name}: {len(report.checked)} objects valid; {len(report.unchecked)} without a schema: {unchecked}",
        file=sys.stderr,
    )
    return True


def _deployability(loaded: LoadedStack, args: argparse.Namespace) -> bool:
    from components.deployability import check_render
    from runtime.registry.lock import read_lock

    findings = check_render(dict(loaded.document), loaded.spec, read_lock(loaded.name, loaded.path.parent))
    for finding in findings:
        print(finding)
    errors = sum(not f.warning for f in findings)
    print(
        f"{loaded.name}: deployability over {len(loaded.document['resources'])} resources: {errors} error(s), "
        f"{len(findings) - errors} warning(s)",
        file=sys.stderr,
    )
    return errors == 0


def _policy_config(stack: str, args: argparse.Namespace) -> PolicyConfig:
    from components.render import display_path
    from policies.rule import CONFIG_DIR, load_policy_config

    return load_policy_config(Path(display_path(args.policy_config or CONFIG_DIR / f"{stack}.json")))


def _policies(loaded: LoadedStack, args: argparse.Namespace) -> bool:
    from policies.catalog import RULES
    from policies.check import evaluate

    policy_config = _policy_config(loaded.name, args)
    violations = evaluate(loaded, policy_config)
    for v in violations:
        print(f"[{v.level.value}] {v.rule}: {v.resource}: {v.message}")
    mandatory = sum(v.mandatory for v in violations)
    resources = len(loaded.document.get("resources") or [])
    print(
        f"{loaded.name}: {len(RULES)} rules over {resources} resources and {loaded.display} "
        f"(levels from {policy_config.source}): {len(violations)} violation(s), {mandatory} mandatory",
        file=sys.stderr,
    )
    return mandatory == 0


# A new check is one function (loaded stack, arguments) -> passed, and one line here.
CHECKS: dict[str, Callable[[LoadedStack, argparse.Namespace], bool]] = {
    "schemas": _schemas,
    "deployability": _deployability,
    "policies": _policies,
}


def run(args: argparse.Namespace) -> int:
    from policies.check import load

    selected = [name for name in CHECKS if name in (args.only or CHECKS)]
    if "policies" in selected:
        _policy_config(args.stack, args)  # a bad pack config is bad input, found before the render
    print(f"checking stack {args.stack}: rendering offline ...", file=sys.stderr)
    loaded = load(args.stack, args.stacks_dir)
    failed = [name for name in selected if not CHECKS[name](loaded, args)]
    if len(selected) > 1:
        verdict = f"failed: {', '.join(failed)}" if failed else "passed"
        print(f"{args.stack}: {', '.join(selected)}: {verdict}", file=sys.stderr)
    return 1 if failed else 0
