from __future__ import annotations

import socket

import pytest

from runtime.local.process import PartSpec, PortInUse, check_port_free, log_tail


def test_port_in_use_names_port_and_part(tiny_part) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        spec = tiny_part("gateway", port=port)
        spec = PartSpec(**{**spec.__dict__, "port_hint": "choose another with --gateway-port"})
        with pytest.raises(PortInUse) as caught:
            check_port_free(spec)
    message = str(caught.value)
    assert f"port {port} on 127.0.0.1 is already in use" in message
    assert "the gateway needs it" in message
    assert "--gateway-port" in message
    check_port_free(spec)  # free again once the listener is closed


def test_log_tail_keeps_the_last_lines(tmp_path) -> None:
    log = tmp_path / "part.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert log_tail(log, lines=3) == "line 97\nline 98\nline 99"
    assert log_tail(tmp_path / "missing.log") == ""
