"""Builders for exec-sim tests: an engine on a manual clock, quotes and proposals."""

from __future__ import annotations

import random
from decimal import Decimal
from importlib import resources
from pathlib import Path

import yaml

from at_core.catalog import InstrumentCatalog
from at_core.clock import ManualClock
from at_core.events import EventFactory, MarketDataEvent, QuoteData, SignalEvent, TradeProposalEvent
from at_core.ids import IdGenerator
from at_core.models.enums import AssetClass, IngestSource, OrderSide, OrderType, SignalAction, TimeInForce
from at_core.models.orders import OrderSpec
from at_exec_sim.domain.accounts import load_accounts, load_profiles
from at_exec_sim.domain.engine import ExecutionEngine
from at_exec_sim.domain.venue import SimVenue
from at_exec_sim.domain.venue_models import FeeModel, FixedTicks, LatencyModel, NoSlippage

T0 = 1_795_050_000_000_000_000  # 2026-11-19T01:00:00Z = Wednesday 19:00 in Chicago: futures session open
D = Decimal


NO_FEES = FeeModel(per_contract=D(0), crypto_taker_bps=D(0), crypto_maker_bps=D(0))


def engine(
    seed: int = 1,
    fees: FeeModel | None = None,
    slippage: Decimal = D(0),
    latency: LatencyModel | None = None,
    clock: ManualClock | None = None,
) -> ExecutionEngine:
    """An engine over the shipped accounts; ``slippage`` is in fixed ticks."""
    clock = clock or ManualClock(T0)
    profiles = load_profiles()
    return ExecutionEngine(
        load_accounts(None, profiles),
        InstrumentCatalog(),
        EventFactory("exec_sim", clock, IdGenerator(clock, random.Random(seed))),
        clock,
        SimVenue(
            fees=fees or NO_FEES,
            slippage=FixedTicks(slippage) if slippage else NoSlippage(),
            latency=latency or LatencyModel(),
        ),
    )


def factory(clock_ns: int = T0, seed: int = 5) -> EventFactory:
    clock = ManualClock(clock_ns)
    return EventFactory("gateway", clock, IdGenerator(clock, random.Random(seed)))


def quote(f: EventFactory, instrument_id: str, bid: str, ask: str, size: str = "10000000") -> MarketDataEvent:
    venue = instrument_id.rsplit(".", 1)[1]
    return f.make(
        MarketDataEvent,
        instrument_id=instrument_id,
        venue=venue,
        data=QuoteData(bid=D(bid), ask=D(ask), bid_size=D(size), ask_size=D(size)),
    )


def proposal(
    f: EventFactory,
    account: str,
    instrument_id: str,
    side: OrderSide,
    qty: str,
    *,
    order_type: OrderType = OrderType.MARKET,
    limit: str | None = None,
    stop: str | None = None,
    stop_loss: str | None = None,
    tif: TimeInForce = TimeInForce.GTC,
    expire_ns: int | None = None,
    automated: bool = True,
) -> TradeProposalEvent:
    signal = f.make(
        SignalEvent,
        origin=IngestSource.TRADINGVIEW,
        account_id=account,
        strategy_id="s",
        instrument_id=instrument_id,
        asset_class=AssetClass.FUTURE,
        ticker=instrument_id,
        action=SignalAction.BUY,
    )
    order = OrderSpec(
        side=side,
        quantity=D(qty),
        order_type=order_type,
        limit_price=D(limit) if limit else None,
        stop_price=D(stop) if stop else None,
        time_in_force=tif,
        expire_time_ns=expire_ns,
    )
    return f.make(
        TradeProposalEvent,
        cause=signal,
        account_id=account,
        strategy_id="s",
        instrument_id=instrument_id,
        signal_event_id=signal.event_id,
        order=order,
        committee="test",
        combination_rule="test",
        stop_price=D(stop_loss) if stop_loss else None,
        automated=automated,  # False: as if a person placed it (Apex refuses automated entries)
    )


def without_sessions(directory: Path, *profile_ids: str) -> Path:
    """``directory`` (a ``profiles_dir``) holding copies of these shipped profiles with no session
    window. A real exec-sim process reads the wall clock, so under a profile's session rule a test
    would pass or fail by the hour it runs: after 15:10 Chicago, or at a weekend, a Topstep entry
    is refused. Tests of sessions drive an engine on a manual clock instead."""
    directory.mkdir(exist_ok=True)
    shipped = resources.files("at_exec_sim.data.profiles")
    for profile_id in profile_ids:
        profile = yaml.safe_load(shipped.joinpath(f"{profile_id}.yaml").read_text())
        profile["limits"].pop("sessions")
        (directory / f"{profile_id}.yaml").write_text(yaml.safe_dump(profile))
    return directory
