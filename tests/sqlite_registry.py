"""One SQLite MLflow registry per test session, for the tests that register models in process.

Creating a registry runs MLflow's schema migrations (tens of seconds on a busy 2-core machine),
so the fraud forest (``fraud_registry``) and the digit classifier (``tests.vision_model``) are
registered in the same one, each under its own experiment and model name."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

__all__ = ["sqlite_registry"]


@functools.cache
def sqlite_registry() -> tuple[str, Path]:
    """``(tracking URI, folder)``: the folder holds the database and gets each experiment's artifacts."""
    root = Path(tempfile.mkdtemp(prefix="ml-serving-tests-registry-"))
    atexit.register(shutil.rmtree, root, True)
    return f"sqlite:///{root / 'mlflow.db'}", root
