"""Pull requests kept open ahead of need, so a durable's messages flow without a round trip each.

``PullSubscription.fetch`` asks the server for messages each time it is called: a pull request
out, the messages back, then a "no messages" status to end it. A consumer that handles one event
at a time (most of them, at live rates) pays all three per event, and nats-server serves them.
This keeps up to ``batch`` messages asked for at any time instead (the way the newer NATS
clients' ``consume()`` does): a message costs its delivery and its ack, nothing more, and one
request per half batch refills the window.

What the server says on the inbox: messages; ``100`` idle heartbeats (a waiting request is
alive); ``408``/``409`` a request ended (expired, or refused with a reason), with how many of
its messages it still owed in ``Nats-Pending-Messages``. A reconnect or a server restart drops
waiting requests without a word: silence for :data:`SILENCE_S` (no message, no heartbeat) means
none is alive, so the window is asked for again. An extra request is harmless (it only delivers
sooner); a missing one would stall the consumer, hence the heartbeat.

Uses nats-py's pull subscription internals (its inbox queue, the next-message subject), as
``fetch`` itself does; nats-py is pinned to its 2.x line.
"""

from __future__ import annotations

import asyncio
import json

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from at_core.runtime.logging import get_logger

log = get_logger("at_core.bus")

#: How long one pull request waits on the server before it ends (``408``) and is renewed.
EXPIRES_S = 5.0
#: The server's heartbeat while a request waits with nothing to deliver.
HEARTBEAT_S = 1.0
#: Nothing heard for this long: no request is alive any more (reconnect, restart); ask again.
SILENCE_S = 2.5 * HEARTBEAT_S

#: How often a lingering batch looks whether the rest of it has come.
LINGER_POLL_S = 0.005

STATUS = "Status"
DESCRIPTION = "Description"
PENDING_MESSAGES = "Nats-Pending-Messages"
HEARTBEAT, NO_MESSAGES = "100", "404"


class PullWindow:
    """The messages of one pull subscription, with up to ``batch`` of them always asked for."""

    def __init__(self, sub: JetStreamContext.PullSubscription, batch: int, linger_s: float = 0.0) -> None:
        self._sub = sub
        self._inbox = sub._sub  # nats-py's subscription of the reply inbox (its pending queue)
        self._batch = max(1, batch)
        self._linger_s = max(0.0, linger_s)
        self._asked = 0  # messages asked for, neither delivered nor given up by the server
        self._heard = 0.0

    @property
    def asked(self) -> int:
        """Messages asked for and not yet delivered (what the open requests still owe)."""
        return self._asked

    async def next_batch(self, timeout: float) -> list[Msg]:
        """The messages delivered so far (at least one, at most ``batch``), or [] after ``timeout``.

        With ``linger_s``, a first message waits up to that long for others to join it, less as
        soon as a whole batch is there (a backlog goes at full speed): fewer, larger batches for
        a consumer off the latency path.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        queue = self._inbox._pending_queue
        while True:
            now = loop.time()
            if self._asked and now - self._heard > SILENCE_S:
                self._asked = 0  # every request is gone without an answer: ask again
            await self._refill(now)
            left = deadline - now
            if left <= 0:
                return []
            try:
                first = await asyncio.wait_for(queue.get(), min(left, SILENCE_S))
            except TimeoutError:
                continue
            msgs = self._take([], first, loop.time())
            if self._linger_s and msgs:  # a message, not a heartbeat: let others join it
                await self._linger(queue, loop.time() + self._linger_s)
            while len(msgs) < self._batch and not queue.empty():
                msgs = self._take(msgs, queue.get_nowait(), self._heard)
            if msgs:
                return msgs

    async def _linger(self, queue: asyncio.Queue[Msg], until: float) -> None:
        """Wait until ``until`` or until a whole batch is queued (besides the one taken)."""
        loop = asyncio.get_running_loop()
        # nats-py's queue tells nobody when it grows: looked at every few ms, a few times per batch
        while queue.qsize() < self._batch - 1 and (left := until - loop.time()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(min(left, LINGER_POLL_S))

    async def _refill(self, now: float) -> None:
        """Ask for the window again once half of it has been delivered (or none is asked for)."""
        if self._asked > self._batch // 2:
            return
        want = self._batch - self._asked
        request = {"batch": want, "expires": int(EXPIRES_S * 1e9), "idle_heartbeat": int(HEARTBEAT_S * 1e9)}
        await self._sub._nc.publish(self._sub._nms, json.dumps(request).encode(), self._sub._deliver)
        if not self._asked:
            self._heard = now  # the silence counts from the first request that is alive
        self._asked += want

    def _take(self, msgs: list[Msg], msg: Msg, now: float) -> list[Msg]:
        """Account for one item of the inbox; a message joins ``msgs``, a status changes the window."""
        self._inbox._pending_size -= len(msg.data)
        self._heard = now
        status = msg.headers.get(STATUS) if msg.headers else None
        if not status:
            self._asked = max(0, self._asked - 1)
            msgs.append(msg)
        elif status != HEARTBEAT:
            self._ended(status, msg)
        return msgs

    def _ended(self, status: str, msg: Msg) -> None:
        """A request ended with ``status``; what it still owed is no longer asked for."""
        assert msg.headers is not None
        owed = msg.headers.get(PENDING_MESSAGES)
        self._asked = max(0, self._asked - int(owed)) if owed and owed.isdigit() else 0
        if status not in ("408", NO_MESSAGES):  # 409: refused or ended with a reason worth seeing
            log.warning("pull_request_ended", status=status, description=msg.headers.get(DESCRIPTION, ""))
