from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from runtime.local.process import PartSpec
from tests import ports

TINY_PART = Path(__file__).with_name("tiny_part.py")


@pytest.fixture
def free_port() -> Callable[[], int]:
    return ports.free_port


@pytest.fixture
def tiny_part() -> Callable[..., PartSpec]:
    """A PartSpec running tests/runtime/local/tiny_part.py on a free port."""

    def make(name: str, *options: str, port: int | None = None) -> PartSpec:
        port = port or ports.free_port()
        argv = (sys.executable, str(TINY_PART), "--port", str(port), *options)
        return PartSpec(name=name, argv=argv, host="127.0.0.1", port=port, ready_path="/")

    return make
