"""Model lineage from the MLflow registry: register a version with lineage, lock a stack's models."""

from runtime.registry.lock import LockedVersion, ModelLock, check_lock, load_checked_lock, lock_path, read_lock
from runtime.registry.register import RegisteredVersion, RegistrationError, register_model

__all__ = [
    "register_model",
    "RegisteredVersion",
    "RegistrationError",
    "LockedVersion",
    "ModelLock",
    "lock_path",
    "read_lock",
    "check_lock",
    "load_checked_lock",
]
