"""Reading wrk's report: each figure found by its pattern, or an error that shows what wrk printed."""

from __future__ import annotations

import re

__all__ = ["found"]


def found(pattern: str, text: str, flags: int = 0) -> re.Match[str]:
    """The first match of ``pattern`` in wrk's output; a clear error when wrk did not print it."""
    match = re.search(pattern, text, flags)
    if match is None:
        raise RuntimeError(f"wrk's output has no {pattern!r}:\n{text}")
    return match
