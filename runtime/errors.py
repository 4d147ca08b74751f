"""The project's error types.

One root error carries its HTTP status (``http.HTTPStatus``) so that the spec, the policies and
the servers share errors without importing a web framework. One handler per server maps the
root error to ``{"error": "..."}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

__all__ = [
    "route_error",
    "MLServingError",
    "SpecError",
    "InvalidInput",
    "ModelNotFound",
    "PayloadTooLarge",
    "ModelUnavailable",
    "LockError",
    "key_path",
    "validation_problems",
]


class MLServingError(Exception):
    """Root of every error the project raises on purpose."""

    status: int = HTTPStatus.INTERNAL_SERVER_ERROR
    """An ``HTTPStatus``, or the code a model server answered with, passed through (``UpstreamRejected``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SpecError(MLServingError):
    """A stack file (or a rollout spec handed over as JSON) does not validate.

    ``problems`` holds one line per problem, each naming the source, the key path and what was
    expected.
    """

    status = HTTPStatus.BAD_REQUEST

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


class InvalidInput(MLServingError):
    status = HTTPStatus.BAD_REQUEST


def _listing(names: Iterable[str]) -> str:
    return ", ".join(sorted(names)) or "none"


class ModelNotFound(MLServingError):
    """A request names a model (or a variant of one) that is not here. Raised through one of the
    constructors below, each of which words its own message from what it is given."""

    status = HTTPStatus.NOT_FOUND

    @classmethod
    def not_served(cls, model: str, served: Iterable[str], by: str = "here") -> ModelNotFound:
        return cls(f"model '{model}' is not served {by}; served models: {_listing(served)}")

    @classmethod
    def not_monitored(cls, model: str, monitored: Iterable[str]) -> ModelNotFound:
        return cls(f"model '{model}' is not monitored; monitored models: {_listing(monitored)}")

    @classmethod
    def unknown_variant(cls, model: str, variant: str, variants: Iterable[str]) -> ModelNotFound:
        return cls(f"variant '{variant}' of model '{model}' is unknown; variants: {_listing(variants)}")

    @classmethod
    def no_profile(cls, model: str, variant: str) -> ModelNotFound:
        return cls(
            f"variant '{variant}' of model '{model}' has no reference profile (or drift is disabled); "
            f"set profiles.{model}.{variant} (or one for the primary) in the monitor config"
        )

    @classmethod
    def no_experiment(cls, model: str, running: Iterable[str] | None = None) -> ModelNotFound:
        where = "its stack entry declares none" if running is None else f"experiments run for: {_listing(running)}"
        return cls(f"model '{model}' runs no experiment; {where}")

    @classmethod
    def not_loaded(cls, model: str) -> ModelNotFound:
        return cls(f"model '{model}' is not loaded")

    @classmethod
    def no_mlflow_model(cls, model_dir: str, found: int) -> ModelNotFound:
        return cls(
            f"no MLflow model in '{model_dir}': expected an MLmodel file there or in exactly one subfolder "
            f"(found {found})"
        )

    @classmethod
    def unmatched_logger(cls, inference_service: str | None, monitored: Iterable[str]) -> ModelNotFound:
        return cls(
            f"ce-inferenceservicename {inference_service!r} names no monitored model "
            f"({_listing(monitored)}); add ?model=&variant= to the logger URL"
        )


class PayloadTooLarge(MLServingError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class ModelUnavailable(MLServingError):
    status = HTTPStatus.SERVICE_UNAVAILABLE


class LockError(MLServingError):
    """The model lock of a stack is missing, stale, or cannot be resolved."""

    status = HTTPStatus.CONFLICT


def key_path(loc: Sequence[int | str], at: str | None = None) -> str:
    """``('models', 'fraud', 'variants', 1)`` and ``at='weight'`` -> ``models.fraud.variants[1].weight``."""
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
    if at:
        path = f"{path}{at}" if at.startswith("[") or not path else f"{path}.{at}"
    return path


def _describe(error: Mapping[str, Any], unknown_key: str) -> str:
    kind, message = error["type"], str(error["msg"])
    if kind == "extra_forbidden":
        return unknown_key
    if kind == "missing":
        return "required key is missing"
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    value = error.get("input")
    if kind != "spec" and value is not None and not isinstance(value, (dict, list)):
        shown = repr(value)
        return f"{message} (got {shown if len(shown) <= 80 else shown[:77] + '...'})"
    return message


def validation_problems(
    errors: Iterable[Mapping[str, Any]],
    *,
    root: str = "",
    prefix: str = "",
    drop: int = 0,
    unknown_key: str = "unknown key (check the spelling)",
) -> list[str]:
    """The one formatter of pydantic's errors (``exc.errors()``): one ``<key path>: <problem>``
    line each, saying what was wrong and, for a scalar, what was given.

    ``prefix`` goes before every key path and ``root`` stands for an empty one; ``drop`` leaves
    out leading ``loc`` parts (FastAPI's ``body``); a cross-field error may point below the model
    that raised it with ``ctx['at']``.
    """
    lines = []
    for error in errors:
        path = key_path(tuple(error["loc"])[drop:], (error.get("ctx") or {}).get("at"))
        lines.append(f"{prefix + path if path else root}: {_describe(error, unknown_key)}")
    return lines


def route_error(method: str, path: str, status: int, served: str) -> str | None:
    """The error of a 404 (no such route) or a 405 (method not allowed), saying what is
    ``served``; None for any other status."""
    what = {404: "no such route", 405: "method not allowed"}.get(status)
    return f"{method} {path}: {what}; {served}" if what else None
