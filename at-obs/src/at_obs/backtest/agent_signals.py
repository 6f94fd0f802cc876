"""Signals from the agents' bar-driven strategies: ``--signals agents:KIND[:k=v,...]`` (pure).

The strategies are at-core's (:mod:`at_core.strategies.bar_signals`), the code at-agents runs
live with ``AT_AGENTS_BAR_SIGNALS``, and so is the signal they make
(:func:`at_core.strategies.bar_signal_event.bar_signal`: source ``agents``, origin ``agent``,
id derived from the bar event's id). The backtest runs that code on its own bar events and
puts each signal right after the bar it came from, where a trade list's alert goes: the driver
waits after the bar before it (so the venue has that bar) and after the signal (its proposal,
risk check and fill are done before the next bar). Generated inside the agents service instead,
the signal would race the venue's handling of the same bar (a fill a bar early, now and then):
the events are the same, byte for byte, only who publishes them differs.

``qty`` (target size, default 1) and ``long_only`` (0 or 1) are the generator's; the rest are
the strategy's parameters (``fast``, ``slow``, ``lookback``), checked here before any service starts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from at_core.clock import ManualClock
from at_core.events import Event, EventFactory, MarketDataEvent
from at_core.ids import IdGenerator
from at_core.strategies.bar_signal_event import SignalTarget, bar_signal, generator_name
from at_core.strategies.bar_signals import BarSignalConfigError, BarSignalGenerator, closed_bar, make_strategy
from at_obs.backtest.errors import BacktestError
from at_obs.backtest.recording import Target

PREFIX = "agents:"
#: The agents' event source: the signals are the agents' events, whoever publishes them.
AGENTS_SOURCE = "agents"


class SignalSourceError(BacktestError, ValueError):
    """A ``--signals`` value that cannot be read or used."""


@dataclass(frozen=True, slots=True)
class AgentSignals:
    """One bar strategy, as the agents would run it."""

    kind: str
    params: dict[str, int] = field(default_factory=dict)
    quantity: Decimal = Decimal(1)
    long_only: bool = False

    def generator(self) -> BarSignalGenerator:
        """A fresh generator of this strategy (the agents build theirs the same way).

        Raises:
            SignalSourceError: the kind or a parameter is wrong.
        """
        try:
            return BarSignalGenerator(make_strategy(self.kind, self.params), long_only=self.long_only)
        except BarSignalConfigError as exc:
            raise SignalSourceError(f"--signals: {exc}") from None


def with_agent_signals(inputs: list[Event], spec: AgentSignals, target: Target, interval: str) -> list[Event]:
    """``inputs`` with each bar's signal (if it gives one) right after that bar.

    Raises:
        SignalSourceError: the strategy's kind or a parameter is wrong.
    """
    generator = spec.generator()
    name = generator_name(spec.kind, target.account_id, target.strategy_id)
    to = SignalTarget(name, target.account_id, target.strategy_id, spec.quantity, target.symbol.asset_class)
    clock = ManualClock(0)
    factory = EventFactory(AGENTS_SOURCE, clock, IdGenerator(clock, random.Random(0)))  # ids are derived, not drawn
    out: list[Event] = []
    for event in inputs:
        out.append(event)
        if not isinstance(event, MarketDataEvent) or event.instrument_id != target.symbol.instrument_id:
            continue
        bar = closed_bar(event, interval)
        change = generator.on_bar(bar) if bar is not None else None
        if change is not None:
            clock.advance_to(event.ts_event)  # the agents' replay clock follows the events
            out.append(bar_signal(factory, event, change, to))
    return out


def parse_signal_source(text: str) -> AgentSignals:
    """``agents:ma_cross:fast=10,slow=30`` (or ``agents:breakout:lookback=20,qty=2,long_only=1``).

    Raises:
        SignalSourceError: not ``agents:KIND``, a parameter that is not ``name=integer``, or a
            strategy the agents do not have.
    """
    if not text.startswith(PREFIX):
        raise SignalSourceError(
            f"--signals {text!r}: expected agents:KIND[:name=value,...], e.g. agents:ma_cross:fast=10,slow=30"
        )
    kind, _, rest = text[len(PREFIX) :].partition(":")
    if not kind:
        raise SignalSourceError(f"--signals {text!r}: no strategy kind after 'agents:'")
    params: dict[str, int] = {}
    quantity, long_only = Decimal(1), False
    for item in filter(None, (p.strip() for p in rest.split(","))):
        name, eq, value = (s.strip() for s in item.partition("="))
        if not eq or not name:
            raise SignalSourceError(f"--signals {text!r}: {item!r} is not name=value")
        try:
            if name == "qty":
                quantity = Decimal(value)
                if not quantity.is_finite() or quantity <= 0:
                    raise ValueError(value)
            elif name == "long_only":
                if value not in ("0", "1", "true", "false"):
                    raise ValueError(value)
                long_only = value in ("1", "true")
            else:
                params[name] = int(value)
        except (ValueError, InvalidOperation):
            what = "a positive number" if name == "qty" else "0 or 1" if name == "long_only" else "an integer"
            raise SignalSourceError(f"--signals {text!r}: {name}={value!r} is not {what}") from None
    spec = AgentSignals(kind, params, quantity, long_only)
    spec.generator()  # a strategy the agents do not have, or a bad parameter: refused now
    return spec
