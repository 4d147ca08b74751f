"""``python -m runtime.registry lock --stack <name>``: ``ml-serving lock`` (cli/lock.py).

``python -m runtime.registry check --stack <name>`` is ``ml-serving lock --check``: it verifies,
offline, that the committed lock pins exactly the stack file's URIs.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from cli import forward

    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["check"]:
        return forward(["lock", "--check"], args[1:])
    if args[:1] == ["lock"]:
        return forward(["lock"], args[1:])
    return forward(["lock"], args)  # no subcommand: the lock's own usage error names what is missing


if __name__ == "__main__":
    sys.exit(main())
