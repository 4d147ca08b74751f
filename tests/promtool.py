"""promtool on a shipped alert rules file and its unit tests (``alerts_test.yaml`` beside the test)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

__all__ = ["check_and_test_rules", "needs_promtool"]

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is installed by scripts/ensure-tools.sh")


def check_and_test_rules(rules: Path, tests: Path) -> None:
    """``promtool check rules`` passes on ``rules``, and ``promtool test rules`` on ``tests``."""
    assert PROMTOOL is not None
    check = subprocess.run([PROMTOOL, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    result = subprocess.run([PROMTOOL, "test", "rules", str(tests)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
