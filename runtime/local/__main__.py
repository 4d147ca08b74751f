"""``python -m runtime.local up``: start the local platform from stacks/Pulumi.local.yaml."""

from __future__ import annotations

import argparse
import sys

from runtime.errors import SpecError
from runtime.spec import load_stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runtime.local")
    parser.add_argument("command", choices=["up", "demo"])
    parser.add_argument("--stack", default="local")
    args = parser.parse_args(argv)
    try:
        spec = load_stack(args.stack)
    except SpecError as exc:
        for line in exc.problems:
            print(f"error: {line}", file=sys.stderr)
        return 2
    print(f"stack '{spec.stack}' validates: models {', '.join(spec.models)}")
    print("The local platform's services (MLflow, model servers, gateway, drift monitor) are not built yet;")
    print("nothing was started.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
