"""Is the stack idle? Every durable consumer has delivered and had acknowledged every stored message.

The services consume streams on independent durable consumers (agents read positions on one
and signals on another), so the outputs of one input reaching the bus does not mean every
service has *taken them in*. Replaying the next input before that makes the result depend on
the machine's speed. The services acknowledge a message after handling it (and publishing what
it caused), so "no consumer has pending or unacknowledged messages" is the point where the
next input sees exactly the state the previous ones built. This is JetStream state, not a
message, so it is polled, with a deadline.

One poll reads the consumers one stream at a time, so it is not one instant: a service can
publish into a stream already read (idle then) and acknowledge its input in a stream read
after (idle by then too). Agents take a signal (``AT_SIGNALS``, read last), publish a proposal
into ``AT_DECISIONS`` (read before) and acknowledge: every consumer looked idle while exec-sim
had a proposal to handle, the next bars raced it, and the backtest's hash changed under load.
So a poll also reads every stream's last sequence before and after the consumers: if a stream
grew in between, the poll is not a snapshot and the stack counts as busy. When nothing was
written during the poll, a consumer seen idle had finished (handlers publish before they
acknowledge), and one still working was seen with its message unacknowledged.
"""

from __future__ import annotations

import asyncio
import time

from nats.js.client import JetStreamContext

from at_core.durables import optional_durable_names

#: The wait between two polls: from ``POLL_MIN_S``, doubled after each busy poll, up to ``POLL_S``.
#: Most barriers of a backtest settle within a few milliseconds; a fixed 20 ms wait cost each
#: of them 20 ms (a year of hourly alerts has about 11,000 barriers).
POLL_MIN_S = 0.002
POLL_S = 0.02


async def _last_sequences(js: JetStreamContext) -> dict[str, tuple[int, int]]:
    """Each stream's last sequence and how many consumers it has."""
    return {s.config.name: (s.state.last_seq, s.state.consumer_count) for s in await js.streams_info()}


async def busy_consumers(js: JetStreamContext) -> list[str]:
    """``stream/consumer`` of every durable consumer with undelivered or unacknowledged messages.

    Ephemeral consumers (a KV watcher, a tracer) are nobody's work queue and never count, nor do
    the optional durables (the notifier's, read only when notifications are configured). A
    stream written while the consumers were read is ``stream (written during the check)``: the
    reading was not one instant, so it proves nothing idle.
    """
    optional = optional_durable_names()
    before = await _last_sequences(js)
    busy = []
    for stream in sorted(name for name, (_, consumers) in before.items() if consumers):  # none: nobody's work
        for consumer in await js.consumers_info(stream):
            if not consumer.config.durable_name or consumer.name in optional:
                continue
            if consumer.num_pending or consumer.num_ack_pending:
                busy.append(f"{stream}/{consumer.name}")
    after = await _last_sequences(js)
    busy += [
        f"{name} (written during the check)"
        for name in sorted(after)
        if after[name][0] != before.get(name, (None, 0))[0]
    ]
    return busy


async def wait_quiescent(js: JetStreamContext, timeout_s: float) -> list[str]:
    """Wait until no consumer is busy; return those still busy at the deadline (empty when idle).

    Raises:
        nats.errors.Error: the JetStream API is not reachable with these credentials.
    """
    deadline = time.monotonic() + timeout_s
    pause = POLL_MIN_S
    while True:
        busy = await busy_consumers(js)
        if not busy or time.monotonic() >= deadline:
            return busy
        await asyncio.sleep(pause)  # JetStream state has no message to await
        pause = min(POLL_S, pause * 2)
