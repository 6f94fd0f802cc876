"""Reading exec-sim's state back from JetStream at start: its own published events (to rebuild
the engine) and the last market data per subject (to know prices before the next tick).

Stream names come from at-core's stream table (the stream that captures a subject), never a literal.
"""

from __future__ import annotations

from collections.abc import Callable

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from at_core import subjects
from at_core.events import Event, MarketDataEvent
from at_core.serialization import decode_event


def stream_of(pattern: str) -> str:
    """The name of the at-core stream that captures ``pattern``."""
    spec = subjects.stream_for_subject(pattern)
    if spec is None:  # at-core's stream table changed under us: fail at import, not at recovery
        raise RuntimeError(f"no at-core stream captures {pattern}")
    return spec.name


#: What exec-sim publishes (its state is rebuilt from it) and the market data it primes prices from.
EXECUTION_STREAM = stream_of(subjects.FILLS)
MARKET_DATA_STREAM = stream_of(subjects.MARKET_DATA)


async def replay_execution(js: JetStreamContext, apply: Callable[[Event], None]) -> int:
    """Give ``apply`` every event of the execution stream, in stream order; how many there were."""
    try:
        info = await js.stream_info(EXECUTION_STREAM)
    except Exception:
        return 0
    last = info.state.last_seq
    if info.state.messages == 0:
        return 0
    sub = await js.pull_subscribe(subjects.ALL, stream=EXECUTION_STREAM, config=None)
    count = 0
    try:
        while True:
            try:
                msgs = await sub.fetch(256, timeout=2)
            except Exception:
                break
            done = False
            for msg in msgs:
                apply(decode_event(msg.data))
                await msg.ack()
                count += 1
                done = msg.metadata.sequence.stream >= last
            if done:
                break
    finally:
        await sub.unsubscribe()
    return count


async def last_market_data(js: JetStreamContext, prime: Callable[[MarketDataEvent], None]) -> int:
    """Give ``prime`` the last market data event per subject; how many there were."""
    try:
        sub = await js.pull_subscribe(
            subjects.MARKET_DATA,
            stream=MARKET_DATA_STREAM,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.LAST_PER_SUBJECT, ack_policy=AckPolicy.NONE),
        )
    except Exception:
        return 0
    count = 0
    try:
        while True:
            try:
                msgs = await sub.fetch(256, timeout=0.5)
            except Exception:
                break
            for msg in msgs:
                event = decode_event(msg.data)
                if isinstance(event, MarketDataEvent):
                    prime(event)
                    count += 1
            if not msgs or msgs[-1].metadata.num_pending == 0:
                break
    finally:
        await sub.unsubscribe()
    return count
