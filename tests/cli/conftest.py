"""A port some other program holds, for the commands that must refuse it."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture
def taken_port():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]
