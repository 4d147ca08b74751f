"""The drift monitor: reference profiles, streaming windows, per-feature tests, alerts and reports."""

from runtime.drift.profile import (
    PROFILE_ARTIFACT_NAME,
    PROFILE_FORMAT_VERSION,
    ProfileError,
    ReferenceProfile,
    build_profile,
    load_profile,
)

__all__ = [
    "PROFILE_ARTIFACT_NAME",
    "PROFILE_FORMAT_VERSION",
    "ProfileError",
    "ReferenceProfile",
    "build_profile",
    "load_profile",
]
