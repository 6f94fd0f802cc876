"""JetStream acks for publishes sent back to back: one reply subscription, one future per publish.

nats-py's ``publish_async`` would do this, but a refusal from the server (a stream at its limits,
no leader) never reaches its future: ``APIError.from_error`` raises inside the reply callback
instead of returning (nats-io/nats.py#985), so a fast refusal looks like a timeout. Here every
reply resolves its future, with the ack or with the server's error.
"""

from __future__ import annotations

import asyncio
import itertools
import json

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import PubAck
from nats.js.errors import APIError, NoStreamResponseError

_STATUS_HEADER = "Status"
_NO_RESPONDERS = "503"


class AckWaiter:
    """Reply subjects for publishes whose JetStream acks are awaited later."""

    def __init__(self, nc: NatsClient) -> None:
        self._nc = nc
        self._prefix: str | None = None
        self._pending: dict[str, asyncio.Future[PubAck]] = {}
        # Tokens only need to be unique under this waiter's own random inbox prefix: a counter
        # is, and costs less than a fresh inbox per publish.
        self._tokens = itertools.count(1)

    async def reply_to(self) -> tuple[str, asyncio.Future[PubAck]]:
        """A fresh reply subject for one publish, and the future its ack (or error) resolves."""
        if self._prefix is None:
            prefix = f"{self._nc.new_inbox()}."
            await self._nc.subscribe(prefix + "*", cb=self._on_reply)
            self._prefix = prefix
        token = str(next(self._tokens))
        future: asyncio.Future[PubAck] = asyncio.get_running_loop().create_future()
        self._pending[token] = future
        future.add_done_callback(lambda done: self._settled(token, done))
        return self._prefix + token, future

    def _settled(self, token: str, future: asyncio.Future[PubAck]) -> None:
        """Answered, failed or abandoned: forget it. Its error counts as seen: a caller that stopped
        at an earlier failure never awaits it, and asyncio would log it as never retrieved."""
        self._pending.pop(token, None)
        if not future.cancelled():
            future.exception()

    async def _on_reply(self, msg: Msg) -> None:
        assert self._prefix is not None
        future = self._pending.get(msg.subject[len(self._prefix) :])
        if future is None or future.done():
            return  # abandoned after a timeout
        if msg.headers and msg.headers.get(_STATUS_HEADER) == _NO_RESPONDERS:
            future.set_exception(NoStreamResponseError())
            return
        try:
            reply = json.loads(msg.data)
            if "error" in reply:
                APIError.from_error(reply["error"])  # always raises the typed error
            future.set_result(PubAck.from_response(reply))
        except Exception as exc:  # the server's refusal, or an answer that is not an ack
            future.set_exception(exc)
