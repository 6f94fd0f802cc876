"""A running durable consumer: its pull loop (take what the pull window delivered, hand it over,
never end on a failure) and its bounded stop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext

from at_core.runtime.bus.connection import CLOSE_STEP_TIMEOUT_S
from at_core.runtime.bus.pipeline import PullWindow
from at_core.runtime.logging import get_logger

log = get_logger("at_core.bus")

#: Takes one fetched batch of raw messages (the consumer's ack rules live in it).
OnMessages = Callable[[list[Msg]], Awaitable[None]]

#: How many times stopping a consumer cancels its loop before giving up on it.
STOP_ATTEMPTS = 3


class Consumer:
    """A running durable consumer; ``stop()`` ends its loop."""

    def __init__(
        self,
        task: asyncio.Task[None],
        sub: JetStreamContext.PullSubscription,
        stopping: asyncio.Event,
        durable: str = "",
        stream: str = "",
        window: PullWindow | None = None,
    ) -> None:
        self._task = task
        self._sub = sub
        self._window = window
        self._stopping = stopping
        self.durable = durable
        self.stream = stream

    async def stop(self) -> None:
        """End the loop (bounded), then unsubscribe (bounded)."""
        self._stopping.set()
        # A cancel can be swallowed: the window waits in asyncio.wait_for, which in Python 3.11
        # returns a message that arrived as the cancel did and drops the cancel (CPython
        # gh-86296); the loop then waits again. The flag ends it at its next turn; the cancel
        # is sent again until it lands.
        for _ in range(STOP_ATTEMPTS):
            self._task.cancel()
            done, _ = await asyncio.wait({self._task}, timeout=CLOSE_STEP_TIMEOUT_S)
            if done:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    self._task.result()
                break
        else:
            log.error("consumer_did_not_stop", task=self._task.get_name())
        with contextlib.suppress(Exception):  # bounded: a dead connection must not hold a shutdown
            await asyncio.wait_for(self._sub.unsubscribe(), CLOSE_STEP_TIMEOUT_S)

    @property
    def running(self) -> bool:
        return not self._task.done()


async def pull_loop(window: PullWindow, on_msgs: OnMessages, stopping: asyncio.Event) -> None:
    """Hand over what ``window`` delivers, batch by batch, until ``stopping``; a failed pull or
    batch never ends the loop."""
    while not stopping.is_set():
        try:
            msgs = await window.next_batch(timeout=1.0)
        except (TimeoutError, NatsTimeoutError):
            continue
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # disconnected while asking: wait and retry
            log.warning("consumer_fetch_failed", error=repr(exc))
            await asyncio.sleep(0.5)
            continue
        if not msgs:
            continue
        try:
            await on_msgs(msgs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an ack or nak lost with the connection: never end the consumer
            # What was not acknowledged comes again after ack_wait; handlers are idempotent.
            log.warning("consumer_batch_interrupted", messages=len(msgs), error=repr(exc))
