from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from runtime.local.process import PartSpec

TINY_PART = Path(__file__).with_name("tiny_part.py")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def free_port() -> Callable[[], int]:
    return _free_port


@pytest.fixture
def tiny_part() -> Callable[..., PartSpec]:
    """A PartSpec running tests/runtime/local/tiny_part.py on a free port."""

    def make(name: str, *options: str, port: int | None = None) -> PartSpec:
        port = port or _free_port()
        argv = (sys.executable, str(TINY_PART), "--port", str(port), *options)
        return PartSpec(name=name, argv=argv, host="127.0.0.1", port=port, ready_path="/")

    return make
