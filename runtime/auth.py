"""Bearer tokens shared by the runtime's HTTP parts: read from the environment or a mounted
secret, compared in constant time."""

from __future__ import annotations

import hmac
from http import HTTPStatus
from pathlib import Path

from runtime.errors import MLServingError

__all__ = ["Unauthorized", "TokenSet", "load_tokens", "bearer"]


class Unauthorized(MLServingError):
    status = HTTPStatus.UNAUTHORIZED


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


def load_tokens(tokens: str | None, tokens_file: str | None, what: str = "gateway") -> list[str]:
    """Tokens from a comma-separated string and/or a file (comma- or line-separated)."""
    found = _split(tokens or "")
    if tokens_file:
        path = Path(tokens_file)
        try:
            found += _split(path.read_text())
        except OSError as exc:
            raise MLServingError(f"cannot read the {what} token file {path}: {exc.strerror}") from None
    return found


def bearer(token: str) -> dict[str, str]:
    """The request header that carries ``token``."""
    return {"authorization": f"Bearer {token}"}


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
