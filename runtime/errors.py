"""The project's error types.

One root error carries its HTTP status (``http.HTTPStatus``) so that the spec, the policies and
the servers share errors without importing a web framework. One handler per server maps the
root error to ``{"error": "..."}``.
"""

from __future__ import annotations

from http import HTTPStatus

__all__ = [
    "MLServingError",
    "SpecError",
    "InvalidInput",
    "ModelNotFound",
    "PayloadTooLarge",
    "ModelUnavailable",
    "LockError",
]


class MLServingError(Exception):
    """Root of every error the project raises on purpose."""

    status: HTTPStatus = HTTPStatus.INTERNAL_SERVER_ERROR

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


class ModelNotFound(MLServingError):
    status = HTTPStatus.NOT_FOUND


class PayloadTooLarge(MLServingError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class ModelUnavailable(MLServingError):
    status = HTTPStatus.SERVICE_UNAVAILABLE


class LockError(MLServingError):
    """The model lock of a stack is missing, stale, or cannot be resolved."""

    status = HTTPStatus.CONFLICT
