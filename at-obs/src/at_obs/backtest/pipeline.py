"""A backtest through the live code: inputs into agents and exec-sim in replay mode, outputs back.

Reuses ``at-replay``'s driver (with its one hook, ``quiesce_after``): each input is published (JetStream-acked), and at
every *barrier* the driver waits until every durable consumer of the stack has handled
everything, so what comes next meets exactly the state the earlier inputs built, whatever the
machine's speed. No quiet period is needed (``settle_s=0``): quiescence is the barrier.

Barriers are every signal, the input just before it, and the last input (``batch_bars``, the
default); market data between two barriers is published without waiting. That is still
deterministic: between barriers only market data is in flight, and each service takes one
stream's messages in order on one durable consumer, so every bar is handled in order before
the next signal is published, and outputs are compared in canonical order (event time, id),
not arrival order. ``batch_bars=False`` waits after every input, as ``at-replay`` does.

With ``batch_bars`` the bars between two barriers also travel in one message: consecutive
market data become one :class:`~at_core.events.MarketDataBatchEvent` (at most
``BATCH_MAX`` each), whose members agents and exec-sim handle in order as if each had come
alone. The members keep their ids, so the outputs (and their hash) are the same as bar by
bar; what changes is one publish, one stored message and one delivery per consumer per batch
instead of per bar.
Every barrier rests on the idle check being one instant: :mod:`at_obs.adapters.quiescence`
says why reading the consumers stream by stream is not, and how a check proves it was.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from at_core.events import Event, MarketDataBatchEvent, MarketDataEvent
from at_core.ids import derive_id
from at_obs.adapters.replay_driver import ReplayDriver
from at_obs.backtest.stack import StackSettings, backtest_stack
from at_obs.domain.replay import output_hash


@dataclass
class StackRun:
    """What one run produced: the outputs in arrival order, their canonical hash, warnings."""

    outputs: list[Event]
    output_sha256: str
    warnings: list[str] = field(default_factory=list)


#: Most bars in one batch message (a stored message stays far below nats-server's 1 MB payload limit).
BATCH_MAX = 500


def batched(inputs: list[Event], most: int = BATCH_MAX) -> list[Event]:
    """Runs of consecutive market data of one instrument as batch events; everything else as it was.

    A run of one stays a plain event. A batch's id derives from its first member's, its time
    and source are its last member's: the same inputs give the same batches, byte for byte.
    """
    out: list[Event] = []
    run: list[MarketDataEvent] = []

    def close() -> None:
        if len(run) == 1:
            out.append(run[0])
        elif run:
            first, last = run[0], run[-1]
            batch_id = derive_id(first.event_id, "md-batch")
            out.append(
                MarketDataBatchEvent(
                    event_id=batch_id, ts_event=last.ts_event, ts_init=last.ts_init, source=last.source,
                    correlation_id=batch_id, instrument_id=first.instrument_id, venue=first.venue, events=list(run),
                )
            )  # fmt: skip
        run.clear()

    for event in inputs:
        same = run and isinstance(event, MarketDataEvent) and (event.instrument_id, event.venue) == (
            run[0].instrument_id, run[0].venue)  # fmt: skip
        if run and (not same or len(run) >= most):
            close()
        if isinstance(event, MarketDataEvent):
            run.append(event)
        else:
            out.append(event)
    close()
    return out


def _members(event: Event) -> int:
    return len(event.events) if isinstance(event, MarketDataBatchEvent) else 1


def segments(inputs: list[Event], batch_bars: bool = True) -> list[tuple[bool, list[Event]]]:
    """Consecutive inputs grouped by whether the driver waits for quiescence after each of them.

    Every group of non-waiting inputs is followed by a waiting one, and the last input waits.
    """
    out: list[tuple[bool, list[Event]]] = []
    for i, event in enumerate(inputs):
        nxt = inputs[i + 1] if i + 1 < len(inputs) else None
        wait = not batch_bars or nxt is None or not _is_market_data(event) or not _is_market_data(nxt)
        if out and out[-1][0] == wait:
            out[-1][1].append(event)
        else:
            out.append((wait, [event]))
    return out


def _is_market_data(event: Event) -> bool:
    return isinstance(event, MarketDataEvent | MarketDataBatchEvent)


async def run_through_stack(
    inputs: list[Event],
    settings: StackSettings,
    *,
    timeout_s: float = 30.0,
    run_dir: Path | None = None,
    progress: Callable[[], Any] | None = None,
    batch_bars: bool = True,
    done: Callable[[], Any] | None = None,
) -> StackRun:
    """Start the stack, replay ``inputs`` through it, stop it.

    Raises:
        StackError: the stack could not start.
        ObsError: the driver could not reach it.
    """
    sent = batched(inputs) if batch_bars else inputs
    waits = {event.event_id for wait, group in segments(sent, batch_bars) if wait for event in group}
    sizes = iter([_members(event) for event in sent])

    def advance() -> None:  # the caller counts inputs: a batch is as many as its members
        for _ in range(next(sizes, 1)):
            if progress is not None:
                progress()

    async with backtest_stack(settings, run_dir) as url:
        driver = ReplayDriver(url, quiesce=True)
        outputs = await driver.run(
            sent,
            Counter(),
            settle_s=0.0,
            timeout_s=timeout_s,
            progress=advance,
            quiesce_after=lambda event: event.event_id in waits,
        )
        if done is not None:  # the replay is over, the stack still up (the bench reads its CPU here)
            done()
    warnings = [
        f"still busy {timeout_s:g} s after input {root}: {', '.join(b)}" for root, b in driver.still_busy.items()
    ]
    if driver.quiesce_error:
        warnings.append(f"no consumer state ({driver.quiesce_error}): outputs may be incomplete")
    return StackRun(list(outputs), output_hash(outputs), warnings)
