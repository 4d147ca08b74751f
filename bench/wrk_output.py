"""wrk, as every benchmark here runs it: the command, and its report read figure by figure (each
found by its pattern, or an error that shows what wrk printed)."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["found", "wrk_argv", "ms", "failures"]


def found(pattern: str, text: str, flags: int = 0) -> re.Match[str]:
    """The first match of ``pattern`` in wrk's output; a clear error when wrk did not print it."""
    match = re.search(pattern, text, flags)
    if match is None:
        raise RuntimeError(f"wrk's output has no {pattern!r}:\n{text}")
    return match


def wrk_argv(url: str, connections: int, duration_s: float, script: Path) -> list[str]:
    """One wrk thread, ``connections`` connections, latency percentiles, a 5 s request timeout."""
    return [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration_s:g}s",
        "--latency",
        "--timeout",
        "5s",
        "-s",
        str(script),
        url,
    ]


def ms(text: str) -> float:
    """A wrk duration (``850.00us``, ``3.20ms``, ``1.05s``, ``1.02m``) in milliseconds."""
    value, unit = found(r"^([\d.]+)(us|ms|s|m)$", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def failures(out: str) -> int:
    """Answers other than 2xx/3xx plus socket errors (connect, read, write, timeout)."""
    failed = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return failed + (sum(int(n) for n in errors.groups()) if errors else 0)
