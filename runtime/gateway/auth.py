"""Bearer-token auth of the gateway's callers (the shared implementation is ``runtime.auth``)."""

from runtime.auth import TokenSet, Unauthorized, load_tokens

__all__ = ["Unauthorized", "TokenSet", "load_tokens"]
