"""``python -m components.deployability --stack prod``: render offline, then run every rule.

Exit 0: no error finding (warnings are printed); 1: at least one; 2: the stack does not load.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from components.deployability import check_render
from components.render import display_path, project_error, render
from runtime.errors import MLServingError, SpecError
from runtime.registry.lock import read_lock
from runtime.spec import STACKS_DIR, existing_stack_file, read_stack_config, validate_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.deployability", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="stack name: stacks/Pulumi.<stack>.yaml")
    parser.add_argument(
        "--stacks-dir", type=Path, default=None, help=f"folder of the stack files (default {STACKS_DIR})"
    )
    args = parser.parse_args(argv)
    print(f"checking stack {args.stack}: rendering offline ...", file=sys.stderr)
    try:
        path = existing_stack_file(args.stack, args.stacks_dir)
        config, _ = read_stack_config(path)
        spec = validate_config(config, args.stack, display_path(path))
        lock = read_lock(args.stack, path.parent)
        document = render(args.stack, path.parent)
    except Exception as exc:  # noqa: BLE001 - one line per problem, never a traceback
        error = project_error(exc)
        lines = (
            error.problems
            if isinstance(error, SpecError)
            else [error.message if isinstance(error, MLServingError) else f"{type(exc).__name__}: {exc}"]
        )
        for line in lines:
            print(f"error: {line}", file=sys.stderr)
        return 2
    findings = check_render(document, spec, lock)
    for finding in findings:
        print(finding)
    errors = sum(not f.warning for f in findings)
    print(
        f"{args.stack}: deployability over {len(document['resources'])} resources: {errors} error(s), "
        f"{len(findings) - errors} warning(s)",
        file=sys.stderr,
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
