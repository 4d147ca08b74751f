"""The drift monitor: reference profiles, streaming windows, per-feature tests, alerts and reports.

The profile names below are loaded on first use, so that importing a light module of this
package (the spec imports the registry ``runtime.drift.stattests``) loads neither numpy nor pandas.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "PROFILE_ARTIFACT_NAME",
    "PROFILE_FORMAT_VERSION",
    "ProfileError",
    "ReferenceProfile",
    "build_profile",
    "load_profile",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("runtime.drift.profile"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
