"""``python -m components.deployability --stack prod``: ``ml-serving check --only deployability``.

Render offline, then run every rule (cli/check.py). Exit 0: no error finding (warnings are
printed); 1: at least one; 2: the stack does not load.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from cli import forward

    return forward(["check", "--only", "deployability"], argv)


if __name__ == "__main__":
    sys.exit(main())
