"""Reading a stream once, in order, through an ephemeral consumer (recovery at start)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from at_core.events import Event
from at_core.runtime.bus.connection import CLOSE_STEP_TIMEOUT_S
from at_core.runtime.bus.delivery import Delivery
from at_core.runtime.bus.errors import BusError
from at_core.runtime.bus.origin import OriginCheck

#: Messages fetched per round of a read.
READ_BATCH = 256


async def read_stream(
    js: JetStreamContext,
    origin: OriginCheck,
    stream: str,
    subject_filter: str,
    deliver_policy: DeliverPolicy,
    fetch_timeout_s: float,
) -> AsyncIterator[tuple[Event, Delivery]]:
    """See :meth:`at_core.runtime.bus.EventBus.read_stream`.

    Raises:
        BusError: the stream cannot be read (missing, or not granted to this service).
    """
    try:
        info = await js.stream_info(stream)
    except Exception as exc:
        raise BusError(f"cannot read stream {stream}: {exc!r}") from exc
    last = info.state.last_seq
    if info.state.messages == 0:
        return
    config = ConsumerConfig(
        ack_policy=AckPolicy.NONE,
        deliver_policy=deliver_policy,
        inactive_threshold=30.0,
        mem_storage=True,
    )
    try:
        sub = await js.pull_subscribe(subject_filter, stream=stream, config=config)
    except Exception as exc:
        raise BusError(f"cannot read stream {stream}: {exc!r}") from exc
    try:
        while True:
            try:
                msgs = await sub.fetch(READ_BATCH, timeout=fetch_timeout_s)
            except (TimeoutError, NatsTimeoutError):
                return
            for msg in msgs:
                seq = msg.metadata.sequence.stream
                opened = await origin.open_for_read(msg)
                if opened is not None:
                    yield opened
                if seq >= last:
                    return
            if msgs and msgs[-1].metadata.num_pending == 0:
                return
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sub.unsubscribe(), CLOSE_STEP_TIMEOUT_S)
