"""Serve an ASGI app on 127.0.0.1 for a test: a real HTTP server, a real client library in the path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn

from at_core.testing import free_port


@asynccontextmanager
async def serve(app) -> AsyncIterator[str]:
    """Run ``app`` under uvicorn on a free loopback port; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    for _ in range(250):
        if server.started:
            break
        await asyncio.sleep(0.02)
    else:
        raise RuntimeError("test server did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


class Relay:
    """A TCP relay on loopback in front of a test server. :meth:`freeze` stops it forwarding either
    way while every connection stays open: a broker gone silent (a half-open socket, a hung
    proxy), where a websocket's close handshake gets no answer."""

    def __init__(self, upstream: str) -> None:
        host_port = upstream.split("://", 1)[1].split("/", 1)[0]
        host, port = host_port.rsplit(":", 1)
        self._upstream = (host, int(port))
        self.frozen = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self.port = 0

    def url(self, base: str) -> str:
        """``base`` (the upstream's URL, any scheme and path) through the relay."""
        scheme, rest = base.split("://", 1)
        path = rest.split("/", 1)[1] if "/" in rest else ""
        return f"{scheme}://127.0.0.1:{self.port}/{path}"

    async def __aenter__(self) -> Relay:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()

    def freeze(self) -> None:
        self.frozen.set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        self._writers += [writer, up_writer]
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            if self.frozen.is_set():
                await asyncio.Event().wait()  # silent from now on: nothing forwarded, nothing closed
            writer.write(data)
            await writer.drain()
        writer.close()  # one side closed: so is the other, as a TCP proxy does
