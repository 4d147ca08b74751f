"""Every HTTP server of the project reads each request within its read timeout and its head
within 64 KiB (runtime/httplimits.py), as real processes: the gateway, the model server, the
drift monitor.

Without it, uvicorn leaves open a connection that sends nothing, or whose headers or body stall
or trickle, for as long as the client likes: each test below then waits for an answer that never
comes (the socket's own timeout, 10 s, fails it). And its httptools protocol takes a header of any
size, holding all of it in memory.
"""

from __future__ import annotations

import json
import re
import select
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from runtime.drift.profile import build_profile
from runtime.wiring import INGEST_PATH
from tests.ports import free_port
from tests.runtime.drift.conftest import TOKEN, make_rows, monitor_config, predict
from tests.runtime.gateway.faults import Process, control, start, start_gateway, start_peer
from tests.runtime.modelserver.slow_model import save_slow_model

READ_TIMEOUT_S = 0.5
X = {"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [4.0]}]}


@dataclass(frozen=True)
class Target:
    name: str
    port: int
    setting: str
    """What sets the limit, named in the 408."""
    live: str
    """A GET path answered 200."""
    post: str
    """A POST path that reads its body, and the headers it needs to be read."""
    auth: str = ""
    body: bytes = b""
    """A body ``post`` answers 2xx or 4xx, never 408, when it arrives in time."""


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Target]]:
    work: Path = tmp_path_factory.mktemp("read-timeout")
    started: list[Process] = []
    try:
        peer = start_peer(work / "peer.log")
        started.append(peer)
        variants = [{"model": "models:/m/1", "role": "primary", "weight": 100}]
        models = {"m": {"variants": variants, "latencyBudgetMs": 2000}}
        env = {"ML_SERVING_GATEWAY_READ_TIMEOUT_S": str(READ_TIMEOUT_S)}
        started.append(start_gateway(models, {"m": {"v1": peer.url}}, work, env))
        gateway = Target(
            "gateway",
            _port(started[-1]),
            "ML_SERVING_GATEWAY_READ_TIMEOUT_S",
            "/v2/health/live",
            "/v2/models/m/infer",
            body=orjson.dumps(X),
        )

        save_slow_model(work / "slow")
        port = free_port()
        command = [sys.executable, "-m", "runtime.modelserver", "--model_name", "slow", "--model_dir"]
        command += [str(work / "slow"), "--http_port", str(port), "--read_timeout_s", str(READ_TIMEOUT_S)]
        started.append(start(command, f"http://127.0.0.1:{port}", "/v2/health/ready", work / "modelserver.log"))
        modelserver = Target(
            "model server", port, "--read_timeout_s", "/v2/health/live", "/v2/models/slow/infer", body=orjson.dumps(X)
        )

        rows = make_rows(2_000, seed=1)
        profile = build_profile(rows, {"fraud": predict(rows)}, sample_size=1_000).save(work)
        config = work / "monitor.json"
        config.write_text(monitor_config(str(work / "state"), str(profile)).model_dump_json())
        port = free_port()
        command = [sys.executable, "-m", "runtime.drift", "--config", str(config), "--port", str(port)]
        env = {"ML_SERVING_DRIFT_TOKENS": TOKEN, "ML_SERVING_DRIFT_READ_TIMEOUT_S": str(READ_TIMEOUT_S)}
        started.append(start(command, f"http://127.0.0.1:{port}", "/healthz", work / "monitor.log", env))
        monitor = Target(
            "drift monitor",
            port,
            "ML_SERVING_DRIFT_READ_TIMEOUT_S",
            "/healthz",
            INGEST_PATH,
            auth=f"authorization: Bearer {TOKEN}\r\n",
            body=b'{"rows": "not rows"}',
        )
        targets = {t.name: t for t in (gateway, modelserver, monitor)}
        targets["peer"] = peer  # type: ignore[assignment]
        yield targets
        for process in started:
            log = process.log.read_text(errors="replace")
            assert "Traceback" not in log, f"{process.log.name}:\n{log[-3000:]}"
    finally:
        for process in reversed(started):
            process.stop()


def _port(process: Process) -> int:
    return int(process.url.rsplit(":", 1)[1])


@dataclass
class Seen:
    answer: bytes
    closed_after_s: float | None
    """Seconds from connecting until the server closed the connection; None if it did not."""

    @property
    def status(self) -> int | None:
        return int(self.answer.split(b" ", 2)[1]) if self.answer.startswith(b"HTTP/1.1 ") else None

    def error(self) -> str:
        return json.loads(self.answer.split(b"\r\n\r\n", 1)[1])["error"]


def talk(port: int, pieces: list[bytes], gap_s: float = 0.0, wait_s: float = 10.0) -> Seen:
    """Send ``pieces`` ``gap_s`` apart, reading whatever comes, until the server closes the
    connection or ``wait_s`` passes after the last piece."""
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as conn:
        began = time.monotonic()

        def read_for(seconds: float) -> bool:
            nonlocal answer
            end = time.monotonic() + seconds
            while (left := end - time.monotonic()) > 0:
                if not select.select([conn], [], [], left)[0]:
                    return False
                try:
                    chunk = conn.recv(65536)
                except ConnectionResetError:
                    return True
                if not chunk:
                    return True
                answer += chunk
            return False

        for i, piece in enumerate(pieces):
            try:
                conn.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                return Seen(answer, time.monotonic() - began)
            if read_for(gap_s if i < len(pieces) - 1 else 0):
                return Seen(answer, time.monotonic() - began)
        closed = read_for(wait_s)
        return Seen(answer, time.monotonic() - began if closed else None)


def request(target: Target, path: str, body: bytes = b"", length: int | None = None, more: str = "") -> bytes:
    method = "POST" if body or length else "GET"
    size = len(body) if length is None else length
    extra = f"content-type: application/json\r\ncontent-length: {size}\r\n{target.auth}" if method == "POST" else ""
    return f"{method} {path} HTTP/1.1\r\nhost: test\r\n{extra}{more}\r\n".encode() + body


NAMES = ["gateway", "model server", "drift monitor"]


def assert_timed_out(seen: Seen, target: Target) -> None:
    assert seen.closed_after_s is not None, f"{target.name} kept the connection open: {seen.answer!r}"
    assert READ_TIMEOUT_S * 0.9 <= seen.closed_after_s < READ_TIMEOUT_S + 3, seen
    assert seen.status == 408, seen.answer
    assert seen.error() == (
        f"request not received in full within {READ_TIMEOUT_S:g} s ({target.setting}); the connection is closed"
    )


@pytest.mark.parametrize("name", NAMES)
def test_a_connection_that_sends_nothing_is_closed_without_an_answer(targets, name):
    seen = talk(targets[name].port, [b""])
    assert seen.closed_after_s is not None and seen.closed_after_s >= READ_TIMEOUT_S * 0.9, seen
    assert seen.answer == b""


@pytest.mark.parametrize("name", NAMES)
def test_headers_that_stall_get_408_naming_the_setting(targets, name):
    target = targets[name]
    assert_timed_out(talk(target.port, [request(target, target.live)[:20]]), target)


@pytest.mark.parametrize("name", NAMES)
def test_headers_that_trickle_get_408_by_the_deadline_not_by_each_byte(targets, name):
    # One byte each 0.1 s: never 0.5 s without a byte, but the request never arrives in time.
    target = targets[name]
    seen = talk(target.port, [bytes([b]) for b in request(target, target.live)], gap_s=0.1)
    assert_timed_out(seen, target)


@pytest.mark.parametrize("name", NAMES)
def test_a_body_that_stalls_gets_408(targets, name):
    target = targets[name]
    assert_timed_out(talk(target.port, [request(target, target.post, target.body[:3], len(target.body))]), target)


@pytest.mark.parametrize("name", NAMES)
def test_a_kept_alive_connection_is_timed_from_its_next_request(targets, name):
    target = targets[name]
    seen = talk(target.port, [request(target, target.live), request(target, target.live)[:20]], gap_s=1.0)
    assert seen.answer.startswith(b"HTTP/1.1 200 "), seen.answer
    assert seen.answer.count(b"HTTP/1.1 ") == 2 and b"HTTP/1.1 408 " in seen.answer, seen.answer
    assert seen.closed_after_s is not None and seen.closed_after_s >= 1.0 + READ_TIMEOUT_S * 0.9, seen


@pytest.mark.parametrize("name", NAMES)
def test_a_request_in_pieces_within_the_limit_is_answered(targets, name):
    target = targets[name]
    whole = request(target, target.post, target.body)
    head, body = whole.split(b"\r\n\r\n", 1)
    pieces = [head[:10], head[10:] + b"\r\n\r\n", body[:5], body[5:]]
    seen = talk(target.port, pieces, gap_s=0.03, wait_s=3.0)
    assert seen.status is not None and seen.status != 408 and seen.status < 500, seen.answer
    if name != "drift monitor":
        assert seen.status == 200, seen.answer


@pytest.mark.parametrize("name", NAMES)
def test_a_head_over_64_kib_gets_431_and_its_connection_closed(targets, name):
    target = targets[name]
    head = request(target, target.live, more=f"x-padding: {'a' * 70_000}\r\n")
    # In 4 KiB pieces, as a client streaming an endless header would send it.
    seen = talk(target.port, [head[i : i + 4096] for i in range(0, len(head), 4096)])
    assert seen.status == 431, seen.answer[:200]
    assert seen.error() == ("request line and headers over 65536 bytes; send at most that; the connection is closed")
    assert seen.closed_after_s is not None


@pytest.mark.parametrize("name", NAMES)
def test_a_large_head_within_the_limit_and_a_large_body_are_answered(targets, name):
    # 60 KiB of headers; then, on the same connection, a body of 400 kB, which is not a head.
    target = targets[name]
    rows = [float(i) for i in range(40_000)]
    body = orjson.dumps({"inputs": [{"name": "x", "shape": [len(rows)], "datatype": "FP64", "data": rows}]})
    big = request(target, target.post, body if name != "drift monitor" else b" " * 400_000 + target.body)
    pieces = [request(target, target.live, more=f"x-padding: {'a' * 60_000}\r\n"), big]
    pieces.append(request(target, target.live, more="connection: close\r\n"))
    seen = talk(target.port, pieces, gap_s=2.0)
    statuses = [int(code) for code in re.findall(rb"HTTP/1\.1 (\d{3}) ", seen.answer)]
    assert len(statuses) == 3 and statuses[0] == statuses[2] == 200, seen.answer[:300]
    assert statuses[1] == (400 if name == "drift monitor" else 200), seen.answer[:300]


@pytest.mark.parametrize("name", NAMES)
def test_blank_lines_after_an_answer_do_not_hold_the_connection(targets, name):
    # The parser skips blank lines before a request; uvicorn stops its keep-alive timer on them.
    target = targets[name]
    seen = talk(target.port, [request(target, target.live), b"\r\n"], gap_s=1.0)
    assert seen.answer.startswith(b"HTTP/1.1 200 "), seen.answer
    assert seen.closed_after_s is not None, f"{name} kept a connection that sent only a blank line"
    assert seen.closed_after_s < 1.0 + READ_TIMEOUT_S + 3, seen


def test_a_pipelined_request_is_timed_once_the_answer_before_it_is_sent(targets):
    # The peer takes 1 s; the next request, pipelined behind, stalls in its body. Its 408 comes
    # after the first answer, whole, and not into it.
    target, peer = targets["gateway"], targets["peer"]
    control(peer, mode="slow", delay_s=1.0)
    try:
        first = request(target, target.post, target.body)
        second = request(target, target.post, target.body[:3], len(target.body))
        seen = talk(target.port, [first + second])
    finally:
        control(peer, mode="answer", delay_s=0.05)
    statuses = [int(code) for code in re.findall(rb"HTTP/1\.1 (\d{3}) ", seen.answer)]
    assert statuses == [200, 408], seen.answer[:400]
    assert seen.closed_after_s is not None and seen.closed_after_s >= 1.0 + READ_TIMEOUT_S * 0.9, seen
