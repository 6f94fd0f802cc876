"""A minimal keep-alive HTTP/1.1 client for the benchmarks' request loops.

httpx spends about a third of a millisecond of the bench's own CPU on each request before its
bytes reach the socket, and as much again reading the answer. In a latency bench that is the
client's time, not the system's: a TradingView alert arrives as bytes on a socket. This client
writes a pre-encoded request on an open connection and reads the status line, the headers and a
``Content-Length`` body, nothing more (no chunked bodies, no redirects, no TLS): enough for the
gateway's answers, and the bench's clock starts when the request is written.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    #: ``time.perf_counter()`` when the request's bytes were handed to the socket.
    sent_at: float


class BenchHttpError(RuntimeError):
    """The server answered with something this client does not read (or closed the connection)."""


#: A connection idle longer than this is closed, not reused: uvicorn closes idle keep-alive
#: connections after 5 s, and a request written on one it is closing would be lost.
MAX_IDLE_S = 2.0


class KeepAliveClient:
    """Up to ``max_connections`` open connections to one host, reused request after request."""

    def __init__(self, host: str, port: int, max_connections: int = 64) -> None:
        self._host, self._port = host, port
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self._slots = asyncio.Semaphore(max_connections)

    async def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Answer:
        head = f"{method} {path} HTTP/1.1\r\nhost: {self._host}:{self._port}\r\ncontent-length: {len(body)}\r\n"
        for key, value in (headers or {}).items():
            head += f"{key}: {value}\r\n"
        raw = (head + "\r\n").encode() + body
        async with self._slots:
            reader, writer = await self._connection()
            try:
                sent_at = time.perf_counter()
                writer.write(raw)
                status, payload, keep = await self._read(reader)
            except BaseException:
                writer.close()
                raise
            if keep:
                self._idle.append((reader, writer, time.monotonic()))
            else:
                writer.close()
            return Answer(status, payload, sent_at)

    async def post(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> Answer:
        return await self.request("POST", path, body, headers)

    async def get(self, path: str) -> Answer:
        return await self.request("GET", path)

    async def close(self) -> None:
        for _, writer, _ in self._idle:
            writer.close()
        self._idle.clear()

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """The most recently used idle connection that is still fresh, or a new one."""
        while self._idle:
            reader, writer, since = self._idle.pop()
            if time.monotonic() - since < MAX_IDLE_S:
                return reader, writer
            writer.close()
        return await asyncio.open_connection(self._host, self._port)

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            raise BenchHttpError("the server closed the connection before answering") from exc
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        if "content-length" not in fields:
            raise BenchHttpError(f"an answer without content-length ({lines[0]}): not read by this client")
        body = await reader.readexactly(int(fields["content-length"]))
        return status, body, fields.get("connection", "").lower() != "close"
