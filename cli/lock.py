"""Pin a stack's models: resolve every models:/ URI through the MLflow registry, write the lock.

The lock (stacks/models.<stack>.lock.json, beside the stack file) holds per URI the version (an
alias pinned to its number), run id, git commit, dataset digest and source, and artifact URI.
The Pulumi program and the render read it, never the registry. --check verifies offline that the
committed lock pins exactly the stack file's URIs (exit 2, naming the command to run, when not).
"""

from __future__ import annotations

import argparse

from cli.options import add_stack_options

HELP = "resolve a stack's models:/ URIs and write its model lock (--check: verify it offline)"
EXAMPLES = """\
  ml-serving lock --stack prod --tracking-uri https://mlflow.example.internal
  ml-serving lock --stack prod --check
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_stack_options(parser)
    parser.add_argument(
        "--check", action="store_true", help="verify the lock against the stack file, without the registry"
    )
    parser.add_argument(
        "--tracking-uri", default=None, help="MLflow tracking URI (default: the stack's platform.mlflow.trackingUri)"
    )
    parser.add_argument(
        "--artifacts-destination",
        default=None,
        help="the MLflow server's --artifacts-destination (e.g. s3://bucket/mlflow); resolves mlflow-artifacts:/ URIs",
    )


def run(args: argparse.Namespace) -> int:
    from runtime.registry.lock import check_lock, lock_path, read_lock, write_lock
    from runtime.spec import load_stack

    spec = load_stack(args.stack, args.stacks_dir)
    if args.check:
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
