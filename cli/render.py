"""Print every resource of a stack's offline render as one JSON document.

The real Pulumi program (__main__.py) runs under pulumi.runtime.set_mocks with the stack's config:
no cloud, no Pulumi CLI, no secret plaintext. A `secure:` value renders as a placeholder, and so
does a required secret the stack file does not hold yet (listed under unsetSecrets, with a note
on stderr; --require-secrets fails instead, as `pulumi up` does).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cli.options import add_stack_options

HELP = "print a stack's offline render (every resource, as JSON)"
EXAMPLES = """\
  ml-serving render --stack prod > render-prod.json
  ml-serving render --stack prod --stacks-dir /tmp/edited-stacks --require-secrets
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_stack_options(parser)
    parser.add_argument(
        "--require-secrets", action="store_true", help="fail, as `pulumi up` does, when a required secret is not set"
    )
    parser.add_argument("--output", "-o", type=Path, default=None, help="write the JSON here instead of stdout")


def rendered(stack: str, stacks_dir: Path | None, *, require_secrets: bool = False) -> dict:
    """The render document; the project error behind a failure of the Pulumi program is raised as itself."""
    from components.render import project_error, render

    try:
        return render(stack, stacks_dir, require_secrets=require_secrets)
    except Exception as exc:
        error = project_error(exc)
        if error is None:
            raise
        raise error from None


def run(args: argparse.Namespace) -> int:
    from runtime.errors import MLServingError
    from runtime.spec import SECRET_PLACEHOLDER

    if args.output is not None and not args.output.parent.is_dir():
        raise MLServingError(f"--output {args.output}: the folder {args.output.parent} does not exist")
    document = rendered(args.stack, args.stacks_dir, require_secrets=args.require_secrets)
    for key in document["unsetSecrets"]:
        print(
            f"note: {key} is not set in the stack file; rendered as {SECRET_PLACEHOLDER} (set it before `pulumi up`)",
            file=sys.stderr,
        )
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text)
    return 0
