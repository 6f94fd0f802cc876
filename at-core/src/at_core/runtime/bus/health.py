"""Consumer health for ``/readyz``: the durable exists on the server, this process's loop for it
runs, and its ack floor moves while work waits."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from at_core.runtime.bus.pull import Consumer


@dataclass(frozen=True, slots=True)
class ConsumerHealth:
    """What :meth:`EventBus.consumer_health` found about one durable consumer."""

    durable: str
    stream: str
    #: The durable exists on the server (deleted: nothing is delivered, ever).
    exists: bool
    #: This process's pull loop for it is running.
    running: bool
    #: Messages the server has not yet delivered, and delivered but not yet acknowledged.
    pending: int
    ack_pending: int
    #: Work is waiting and the consumer's ack floor has not moved for ``stall_after_s``.
    stalled: bool
    #: A short reason when not healthy: ``missing``, ``not_running``, ``stalled``, ``unreachable``.
    problem: str | None = None

    @property
    def healthy(self) -> bool:
        return self.problem is None


class ProgressWatch:
    """Per durable: its ack floor, and the monotonic time it last moved (or the work ran out)."""

    def __init__(self) -> None:
        self._progress: dict[str, tuple[int, float]] = {}

    async def health(
        self, js: JetStreamContext, consumer: Consumer, *, stall_after_s: float, timeout: float
    ) -> ConsumerHealth:
        """See :meth:`at_core.runtime.bus.EventBus.consumer_health`."""
        durable = consumer.durable
        base = functools.partial(ConsumerHealth, durable, consumer.stream, running=consumer.running)
        try:
            info = await js.consumer_info(consumer.stream, durable, timeout=timeout)
        except NotFoundError:
            return base(exists=False, pending=0, ack_pending=0, stalled=False, problem="missing")
        except Exception:
            return base(exists=True, pending=0, ack_pending=0, stalled=False, problem="unreachable")
        pending, ack_pending = int(info.num_pending or 0), int(info.num_ack_pending or 0)
        floor = int(info.ack_floor.stream_seq if info.ack_floor else 0)
        now = time.monotonic()
        seen_floor, since = self._progress.get(durable, (floor, now))
        if floor != seen_floor or (pending == 0 and ack_pending == 0):
            since = now
        self._progress[durable] = (floor, since)
        stalled = (pending > 0 or ack_pending > 0) and now - since >= stall_after_s
        problem = "not_running" if not consumer.running else "stalled" if stalled else None
        return base(exists=True, pending=pending, ack_pending=ack_pending, stalled=stalled, problem=problem)
