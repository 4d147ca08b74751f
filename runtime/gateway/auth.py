"""Bearer-token auth: tokens from the environment or a mounted secret, constant-time compare."""

from __future__ import annotations

import hmac
from http import HTTPStatus
from pathlib import Path

from runtime.errors import MLServingError

__all__ = ["Unauthorized", "TokenSet", "load_tokens"]


class Unauthorized(MLServingError):
    status = HTTPStatus.UNAUTHORIZED


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


def load_tokens(tokens: str | None, tokens_file: str | None) -> list[str]:
    """Tokens from a comma-separated string and/or a file (comma- or line-separated)."""
    found = _split(tokens or "")
    if tokens_file:
        path = Path(tokens_file)
        try:
            found += _split(path.read_text())
        except OSError as exc:
            raise MLServingError(f"cannot read the gateway token file {path}: {exc.strerror}") from None
    return found


class TokenSet:
    def __init__(self, tokens: list[str]) -> None:
        self._tokens = [token.encode() for token in tokens]

    def __bool__(self) -> bool:
        return bool(self._tokens)

    def check(self, authorization: str | None) -> None:
        """Raise ``Unauthorized`` unless the header carries one of the tokens."""
        if not authorization:
            raise Unauthorized("missing 'Authorization: Bearer <token>' header")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("the Authorization header must be 'Bearer <token>'")
        given = token.strip().encode()
        # Compare against every token, without stopping at a match, so timing says nothing.
        ok = False
        for known in self._tokens:
            ok |= hmac.compare_digest(given, known)
        if not ok:
            raise Unauthorized("invalid bearer token")
