"""Is each durable consumer really consuming? Asked of JetStream, not of our own task.

A consumer's task can be running while its durable is gone (deleted by an operator or an
attacker: the loop then fetches nothing, forever) or while it makes no progress on a backlog
(a handler stuck on an await). :class:`ConsumerWatch` asks JetStream (``consumer_info``) for
each durable: missing is red; a backlog (pending or unacknowledged messages) whose delivered
and acknowledged sequences have not moved for ``stall_after_s`` is red.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from nats.js.errors import NotFoundError

from at_core.runtime.bus import Consumer

State = Literal["ok", "missing", "stalled", "stopped", "unknown"]


@dataclass(frozen=True, slots=True)
class ConsumerHealth:
    """One durable as JetStream sees it."""

    stream: str
    durable: str
    state: State
    pending: int = 0
    ack_pending: int = 0
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.state == "ok"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class _Progress:
    mark: tuple[int, int]
    since: float


class ConsumerWatch:
    """Checks durables against JetStream and remembers, per durable, when it last made progress.

    Args:
        stall_after_s: a backlog with no progress for this long is ``stalled``.
        info_timeout_s: how long one ``consumer_info`` may take (``unknown`` beyond it).
        monotonic: the clock stalls are measured with (injected in tests).
    """

    def __init__(
        self,
        stall_after_s: float = 120.0,
        *,
        info_timeout_s: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stall_after_s = stall_after_s
        self.info_timeout_s = info_timeout_s
        self._monotonic = monotonic
        self._progress: dict[tuple[str, str], _Progress] = {}

    async def check(self, consumers: Sequence[Consumer]) -> list[ConsumerHealth]:
        """The health of each consumer's durable, in order."""
        return list(await asyncio.gather(*(self.check_one(c) for c in consumers)))

    async def check_one(self, consumer: Consumer) -> ConsumerHealth:
        # The pull subscription knows its stream, durable and JetStream context (nats-py's own fields).
        sub: Any = consumer._sub
        stream, durable = str(sub._stream), str(sub._consumer)
        if not consumer.running:
            return ConsumerHealth(stream, durable, "stopped", detail="the consumer loop has ended")
        try:
            info = await asyncio.wait_for(sub._js.consumer_info(stream, durable), self.info_timeout_s)
        except NotFoundError:
            self._progress.pop((stream, durable), None)
            return ConsumerHealth(stream, durable, "missing", detail="JetStream has no such durable")
        except Exception as exc:  # timeout, disconnected: not known to be consuming
            return ConsumerHealth(stream, durable, "unknown", detail=type(exc).__name__)
        pending, ack_pending = int(info.num_pending or 0), int(info.num_ack_pending or 0)
        mark = (
            info.delivered.consumer_seq if info.delivered else 0,
            info.ack_floor.consumer_seq if info.ack_floor else 0,
        )
        now = self._monotonic()
        seen = self._progress.get((stream, durable))
        if seen is None or seen.mark != mark or pending + ack_pending == 0:
            self._progress[(stream, durable)] = _Progress(mark, now)
            return ConsumerHealth(stream, durable, "ok", pending, ack_pending)
        idle = now - seen.since
        if idle > self.stall_after_s:
            detail = f"{pending + ack_pending} messages waiting, no progress for {idle:.0f} s"
            return ConsumerHealth(stream, durable, "stalled", pending, ack_pending, detail)
        return ConsumerHealth(stream, durable, "ok", pending, ack_pending)
