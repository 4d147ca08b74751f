"""Bytes on the wire, as TCP carries them: a loopback proxy that counts what passes each way.

A client pointed at ``WireCounter.address`` reaches ``target`` through it; ``sent`` and
``received`` are the TCP payload bytes from the client and back to it, HTTP/1.1 or HTTP/2 framing,
headers and bodies included, so JSON, binary tensors and gRPC are counted alike. Only the bench
uses it: it adds a hop, so timings are taken without it.
"""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["WireCounter"]


class WireCounter:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.sent = 0
        self.received = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    @property
    def address(self) -> str:
        if self._server is None:
            raise RuntimeError("the wire counter is not started")
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"{host}:{port}"

    def snapshot(self) -> tuple[int, int]:
        return self.sent, self.received

    async def __aenter__(self) -> WireCounter:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _connection(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
            await asyncio.gather(
                self._pump(client_reader, upstream_writer, "sent"),
                self._pump(upstream_reader, client_writer, "received"),
            )
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            client_writer.close()
            if task is not None:
                self._tasks.discard(task)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, counter: str) -> None:
        try:
            while chunk := await reader.read(1 << 16):
                setattr(self, counter, getattr(self, counter) + len(chunk))
                writer.write(chunk)
                await writer.drain()
        finally:
            with contextlib.suppress(Exception):
                writer.close()
