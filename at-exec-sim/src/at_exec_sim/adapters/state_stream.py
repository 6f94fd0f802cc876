"""Reading exec-sim's state back from JetStream at start: its own published events (to rebuild
the engine) and the last market data per subject (to know prices before the next tick).

Read through at-core's ``EventBus.read_stream``, so an event on a subject it may not come from is
dead-lettered and never booked, as in live consumption, and only with what exec-sim's NATS user
is granted (an ephemeral consumer filtered to those subjects). Stream names come from at-core's
stream table (the stream that captures a subject), never a literal.
"""

from __future__ import annotations

from collections.abc import Callable

from nats.js.api import DeliverPolicy

from at_core import subjects
from at_core.events import Event, MarketDataBatchEvent, MarketDataEvent
from at_core.runtime.bus import BusError, EventBus
from at_core.runtime.logging import get_logger

log = get_logger("at_exec_sim.state_stream")


def stream_of(pattern: str) -> str:
    """The name of the at-core stream that captures ``pattern``."""
    spec = subjects.stream_for_subject(pattern)
    if spec is None:  # at-core's stream table changed under us: fail at import, not at recovery
        raise RuntimeError(f"no at-core stream captures {pattern}")
    return spec.name


#: What exec-sim publishes (its state is rebuilt from it) and the market data it primes prices from.
EXECUTION_STREAM = stream_of(subjects.FILLS)
MARKET_DATA_STREAM = stream_of(subjects.MARKET_DATA)


async def replay_execution(bus: EventBus, apply: Callable[[Event], None]) -> int:
    """Give ``apply`` every event of the execution stream, in stream order; how many there were."""
    count = 0
    try:
        async for event, _ in bus.read_stream(EXECUTION_STREAM):
            apply(event)
            count += 1
    except BusError as exc:  # no stream yet (a fresh store): nothing to recover
        log.warning("recovery_read_failed", error=str(exc))
    return count


async def last_market_data(bus: EventBus, prime: Callable[[MarketDataEvent], None]) -> int:
    """Give ``prime`` the last market data event per subject; how many there were."""
    count = 0
    try:
        async for event, _ in bus.read_stream(
            MARKET_DATA_STREAM, subjects.MARKET_DATA, deliver_policy=DeliverPolicy.LAST_PER_SUBJECT, fetch_timeout_s=0.5
        ):
            if isinstance(event, MarketDataEvent):
                prime(event)
                count += 1
            elif isinstance(event, MarketDataBatchEvent):  # a backtest's bars: the last one is the price
                prime(event.events[-1])
                count += 1
    except BusError as exc:
        log.warning("price_priming_failed", error=str(exc))
    return count
