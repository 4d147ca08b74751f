"""Each answer's head goes out with its body, in one write (runtime/httplimits.py), on a real
uvicorn server on loopback with the project's protocol: uvicorn alone writes the head the moment
the app starts its answer, and the body in a second write (a second segment, a second wake-up of
the client). An interim 100 Continue still goes at once, and a head whose body never comes is
still sent before the connection closes."""

from __future__ import annotations

import asyncio
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn

from runtime.httplimits import guarded_http
from tests.ports import free_port

HEAD = [(b"content-type", b"text/plain"), (b"content-length", b"5")]


def _readable(sock: socket.socket, timeout_s: float) -> bool:
    return bool(select.select([sock], [], [], timeout_s)[0])


def _until_closed(sock: socket.socket, timeout_s: float = 10.0) -> bytes:
    data, deadline = b"", time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    raise AssertionError(f"the connection stayed open; got {data!r}")


@pytest.fixture
def serve() -> Iterator[Callable[[Any], int]]:
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: Any) -> int:
        port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, http=guarded_http(5, "READ"), lifespan="off", log_level="critical"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
            time.sleep(0.01)
        return port

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)


def test_the_head_waits_for_the_body_and_both_arrive_together(serve):
    started, release = threading.Event(), threading.Event()

    async def app(scope: dict, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": HEAD})
        started.set()
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 10)
        await send({"type": "http.response.body", "body": b"hello"})

    with socket.create_connection(("127.0.0.1", serve(app)), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")
        try:
            assert started.wait(10), "the app did not start its answer"
            # The app has started its answer and holds the body: uvicorn alone has written the head.
            assert not _readable(sock, 0.5), f"the head went out alone: {sock.recv(65536)!r}"
        finally:
            release.set()
        assert _readable(sock, 10), "no answer once the body was sent"
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 OK\r\n") and first.endswith(b"\r\n\r\nhello"), first


def test_a_100_continue_goes_at_once_and_the_answer_follows(serve):
    async def app(scope: dict, receive: Any, send: Any) -> None:
        body = (await receive())["body"]
        await send({"type": "http.response.start", "status": 200, "headers": HEAD})
        await send({"type": "http.response.body", "body": body.upper()})

    with socket.create_connection(("127.0.0.1", serve(app)), timeout=10) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nhost: t\r\ncontent-length: 5\r\nexpect: 100-continue\r\nconnection: close\r\n\r\n"
        )
        assert _readable(sock, 10), "no 100 Continue"
        assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        answer = _until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"HELLO"), answer


def test_a_head_whose_body_never_comes_is_sent_before_the_connection_closes(serve):
    async def app(scope: dict, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": HEAD})
        raise RuntimeError("the app fails after starting its answer")

    with socket.create_connection(("127.0.0.1", serve(app)), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n")
        answer = _until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"\r\n\r\n"), answer
