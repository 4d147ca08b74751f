"""Model lineage from the MLflow registry: register a version with lineage, lock a stack's models."""

from runtime.registry.register import RegisteredVersion, RegistrationError, register_model

__all__ = ["register_model", "RegisteredVersion", "RegistrationError"]
