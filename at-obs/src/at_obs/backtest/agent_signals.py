"""Signals from at-agents' bar-driven strategies: ``--signals agents:KIND[:k=v,...]`` (pure).

at-obs does not import at-agents: it passes the strategy to the agents it starts as their
``AT_AGENTS_BAR_SIGNALS`` setting, for the backtest's account, strategy and instrument, and the
agents generate the signals from the bars the backtest publishes, as they would live. The
strategy's own parameters (``fast``, ``slow``, ``lookback``) are checked by the agents at start
(a bad one stops the run with the agents' message); ``qty`` (target size, default 1) and
``long_only`` (0 or 1) are the generator's, read here.

Every bar is then a barrier (``batch_bars=False``): a bar can cause a signal the driver did not
send, so the next bar waits until the signal's proposal, risk check and fill are done, and the
run is deterministic whatever the machine's speed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from at_obs.backtest.errors import BacktestError

PREFIX = "agents:"
AGENT_SETTING = "AT_AGENTS_BAR_SIGNALS"


class SignalSourceError(BacktestError, ValueError):
    """A ``--signals`` value that cannot be read."""


@dataclass(frozen=True, slots=True)
class AgentSignals:
    """One bar strategy to run inside the agents."""

    kind: str
    params: dict[str, int] = field(default_factory=dict)
    quantity: Decimal = Decimal(1)
    long_only: bool = False

    def setting(self, account_id: str, strategy_id: str, instrument_id: str, interval: str) -> dict[str, str]:
        """The agents' setting that runs this strategy on the backtest's bars for its account and strategy."""
        entry = {
            "account_id": account_id, "strategy_id": strategy_id, "instrument_id": instrument_id,
            "kind": self.kind, "params": self.params, "quantity": str(self.quantity),
            "long_only": self.long_only, "interval": interval,
        }  # fmt: skip
        return {AGENT_SETTING: json.dumps([entry], sort_keys=True)}


def parse_signal_source(text: str) -> AgentSignals:
    """``agents:ma_cross:fast=10,slow=30`` (or ``agents:breakout:lookback=20,qty=2,long_only=1``).

    Raises:
        SignalSourceError: not ``agents:KIND``, or a parameter that is not ``name=integer``.
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
    return AgentSignals(kind, params, quantity, long_only)
