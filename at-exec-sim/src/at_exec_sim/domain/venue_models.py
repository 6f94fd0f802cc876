"""The simulated venue's models: slippage, fees and latency. Pure; randomness is injected.

Slippage models return an adverse price move per unit (>= 0, in price units) that the venue
adds to a taker's price and rounds to the tick against the taker:

* :class:`NoSlippage`;
* :class:`FixedTicks` - ``ticks`` x the instrument's tick;
* :class:`SpreadSlippage` - ``fraction`` x the quoted spread beyond the touch;
* :class:`VolumeShareSlippage` - LEAN's ``VolumeShareSlippageModel``: with
  ``share = min(quantity / volume, volume_limit)``, slippage = ``share**2 x price_impact x price``
  (defaults 0.025 and 0.1, as LEAN's). As in LEAN, no volume known (0) means the maximum,
  ``volume_limit**2 x price_impact x price``, except for FX, which reports no volume: 0. The
  volume is the bar's volume or the trade's size, or on a quote the displayed size on the side
  the order takes (LEAN looks at the opposite side of a quote bar; we charge against what the
  order actually consumes).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from at_core.catalog import Instrument
from at_core.models.enums import AssetClass, LiquiditySide
from at_exec_sim.errors import ConfigError

ZERO = Decimal(0)


@dataclass(frozen=True)
class Quote:
    """The prices and sizes a slippage model may look at."""

    bid: Decimal | None
    ask: Decimal | None
    volume: Decimal  # bar volume, trade size or displayed size on the side taken; 0 if unknown


class SlippageModel(Protocol):
    def slippage(self, inst: Instrument, quantity: Decimal, price: Decimal, quote: Quote) -> Decimal: ...


@dataclass(frozen=True)
class NoSlippage:
    def slippage(self, inst: Instrument, quantity: Decimal, price: Decimal, quote: Quote) -> Decimal:
        return ZERO


@dataclass(frozen=True)
class FixedTicks:
    ticks: Decimal = Decimal(1)

    def slippage(self, inst: Instrument, quantity: Decimal, price: Decimal, quote: Quote) -> Decimal:
        return inst.price_increment * self.ticks


@dataclass(frozen=True)
class SpreadSlippage:
    fraction: Decimal = Decimal("0.5")

    def slippage(self, inst: Instrument, quantity: Decimal, price: Decimal, quote: Quote) -> Decimal:
        if quote.bid is None or quote.ask is None:
            return ZERO
        return max(quote.ask - quote.bid, ZERO) * self.fraction


@dataclass(frozen=True)
class VolumeShareSlippage:
    volume_limit: Decimal = Decimal("0.025")
    price_impact: Decimal = Decimal("0.1")

    def slippage(self, inst: Instrument, quantity: Decimal, price: Decimal, quote: Quote) -> Decimal:
        if quote.volume <= 0:
            share = ZERO if inst.asset_class is AssetClass.FX else self.volume_limit
        else:
            share = min(quantity / quote.volume, self.volume_limit)
        return share * share * self.price_impact * price


SLIPPAGE_MODELS = ("none", "fixed_ticks", "spread", "volume_share")


def slippage_model(name: str, value: Decimal | None = None, volume_limit: Decimal = Decimal("0.025")) -> SlippageModel:
    """Build a slippage model by name.

    Args:
        name: ``none``, ``fixed_ticks``, ``spread`` or ``volume_share``.
        value: ticks (fixed_ticks, default 1), fraction of the spread (spread, default 0.5) or
            price impact (volume_share, default 0.1); must be None for ``none``.
        volume_limit: volume_share's cap on quantity / volume.

    Raises:
        ConfigError: an unknown name, a negative value, or a value for ``none``.
    """
    if name not in SLIPPAGE_MODELS:
        raise ConfigError("slippage_model", f"unknown model {name!r}; one of {', '.join(SLIPPAGE_MODELS)}")
    if value is not None and value < 0:
        raise ConfigError("slippage_value", f"must be >= 0, got {value}")
    if name == "none":
        if value is not None:
            raise ConfigError("slippage_value", "slippage_model=none takes no value")
        return NoSlippage()
    if name == "fixed_ticks":
        return FixedTicks(value if value is not None else Decimal(1))
    if name == "spread":
        return SpreadSlippage(value if value is not None else Decimal("0.5"))
    if not ZERO < volume_limit <= 1:
        raise ConfigError("slippage_volume_limit", f"must be in (0, 1], got {volume_limit}")
    return VolumeShareSlippage(volume_limit, value if value is not None else Decimal("0.1"))


@dataclass(frozen=True)
class FeeModel:
    """Per contract for futures; maker/taker basis points for crypto and FX; plus a fixed fee per fill."""

    per_contract: Decimal = Decimal("0.62")  # futures, per side
    fx_bps: Decimal = ZERO
    crypto_taker_bps: Decimal = Decimal("4")
    crypto_maker_bps: Decimal = Decimal("2")
    fixed_per_fill: Decimal = ZERO

    def fee(self, inst: Instrument, qty: Decimal, price: Decimal, liquidity: LiquiditySide) -> Decimal:
        if inst.asset_class is AssetClass.FUTURE:
            return (qty * self.per_contract + self.fixed_per_fill).quantize(Decimal("0.01"))
        bps = (
            self.fx_bps
            if inst.asset_class is AssetClass.FX
            else (self.crypto_taker_bps if liquidity is LiquiditySide.TAKER else self.crypto_maker_bps)
        )
        return (inst.notional(qty, price) * bps / Decimal(10_000) + self.fixed_per_fill).quantize(Decimal("0.00000001"))


@dataclass
class LatencyModel:
    """Delay (ns) before an order or a cancel reaches the venue: constant, or constant plus a
    uniform sample in ``[0, jitter_ns]`` from an injected, seeded RNG."""

    submit_ns: int = 0
    cancel_ns: int = 0
    jitter_ns: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def __post_init__(self) -> None:
        for name in ("submit_ns", "cancel_ns", "jitter_ns"):
            if getattr(self, name) < 0:
                raise ConfigError(f"latency_{name}", f"must be >= 0, got {getattr(self, name)}")

    def _sample(self, base: int) -> int:
        return base + (self.rng.randint(0, self.jitter_ns) if self.jitter_ns else 0)

    def submit_delay(self) -> int:
        return self._sample(self.submit_ns)

    def cancel_delay(self) -> int:
        return self._sample(self.cancel_ns)
