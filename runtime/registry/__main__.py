"""``python -m runtime.registry lock --stack <name>``: pin a stack's models and write its lock.

``check`` verifies, offline, that the committed lock pins exactly the stack file's URIs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runtime.errors import MLServingError, SpecError
from runtime.registry.lock import check_lock, lock_path, read_lock, write_lock
from runtime.spec import STACKS_DIR, load_stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runtime.registry", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    lock = commands.add_parser(
        "lock", help="resolve the stack's models:/ URIs and write stacks/models.<stack>.lock.json"
    )
    check = commands.add_parser("check", help="verify the lock against the stack file, without the registry")
    for sub in (lock, check):
        sub.add_argument("--stack", required=True)
        sub.add_argument(
            "--stacks-dir", type=Path, default=None, help=f"folder of the stack files (default {STACKS_DIR})"
        )
    lock.add_argument(
        "--tracking-uri", default=None, help="MLflow tracking URI (default: the stack's platform.mlflow.trackingUri)"
    )
    lock.add_argument(
        "--artifacts-destination",
        default=None,
        help="the MLflow server's --artifacts-destination (e.g. s3://bucket/mlflow); resolves mlflow-artifacts:/ URIs",
    )
    args = parser.parse_args(argv)
    try:
        spec = load_stack(args.stack, args.stacks_dir)
        if args.command == "check":
            check_lock(spec, read_lock(args.stack, args.stacks_dir))
            print(f"{lock_path(args.stack, args.stacks_dir).name} pins every model URI of stack '{args.stack}'")
            return 0
        from runtime.registry.resolve import resolve_lock

        target = args.tracking_uri or spec.platform.mlflow.tracking_uri
        print(f"locking stack '{args.stack}' against {target} ...", flush=True)
        resolved = resolve_lock(
            spec, args.tracking_uri, args.artifacts_destination, lambda line: print(f"  {line}", flush=True)
        )
        path = lock_path(args.stack, args.stacks_dir)
        write_lock(resolved, path)
        print(f"wrote {path}")
        return 0
    except MLServingError as exc:
        for line in exc.problems if isinstance(exc, SpecError) else [exc.message]:
            print(f"error: {line}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
