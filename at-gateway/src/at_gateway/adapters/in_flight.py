"""Publishes in flight, by ordering lane: a later event of a lane waits for the earlier one's answer.

Without it, an event published while an earlier one of its lane is still unanswered could be
taken by JetStream, and the earlier one, failing a moment later, queued in the outbox behind it:
the position's order inverted. The rule mirrors the outbox's (``domain/lanes.py``).
"""

from __future__ import annotations

import asyncio

from at_gateway.domain.lanes import Lane


class InFlight:
    """Each lane's latest publish not yet answered, so that a later event of the lane waits for it.

    Mirrors :class:`QueuedLanes` for publishes in flight: an event waits for the earlier ones of
    its lane and for any of no lane; an event of no lane waits for every lane's. Only lanes with a
    publish in flight are held (memory follows what is in flight).
    """

    __slots__ = ("_tails",)

    def __init__(self) -> None:
        self._tails: dict[Lane, asyncio.Future[None]] = {}

    def claim(self, lane: Lane) -> tuple[list[asyncio.Future[None]], asyncio.Future[None]]:
        """The earlier publishes to wait for, and this one's turn (pass it to :meth:`release`)."""
        if lane is None:
            before = list(self._tails.values())
        else:
            before = [f for f in (self._tails.get(lane), self._tails.get(None)) if f is not None]
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[lane] = mine
        return [f for f in before if not f.done()], mine

    def release(self, lane: Lane, mine: asyncio.Future[None]) -> None:
        """This publish is answered (stored, queued or failed): who waits for it may go."""
        if not mine.done():
            mine.set_result(None)
        if self._tails.get(lane) is mine:
            del self._tails[lane]

    def __len__(self) -> int:
        return len(self._tails)
