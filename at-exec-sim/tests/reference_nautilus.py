"""nautilus_trader's BacktestEngine as an independent reference (tests and the benchmark).

The same quote stream and the same market orders go through nautilus (NETTING, MARGIN
account); we read back its fills, its commissions and its account balance: over a session
that ends flat, balance change plus commissions is the realised P&L nautilus computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig, StrategyConfig
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.data import QuoteTick
from nautilus_trader.model.enums import AccountType, AssetClass, OmsType
from nautilus_trader.model.enums import OrderSide as NtSide
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import InstrumentId, Symbol, TraderId, Venue
from nautilus_trader.model.instruments import FuturesContract
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.test_kit.providers import TestInstrumentProvider
from nautilus_trader.trading.strategy import Strategy

START_BALANCE = 10_000_000


@dataclass(frozen=True)
class Step:
    """A quote, and optionally a market order right after it: ('buy'|'sell', quantity)."""

    ts_ns: int
    bid: str
    ask: str
    order: tuple[str, str] | None = None


@dataclass(frozen=True)
class ReferenceResult:
    fills: list[tuple[str, Decimal, Decimal]]  # (side, qty, price) in fill order
    realized_pnl: Decimal  # balance change plus commissions: the session ends flat
    quotes_processed: int


def es_contract(venue: str = "XCME") -> FuturesContract:
    """ES with its real multiplier (50) and zero fees."""
    return FuturesContract(
        instrument_id=InstrumentId(Symbol("ESZ6"), Venue(venue)),
        raw_symbol=Symbol("ESZ6"),
        asset_class=AssetClass.INDEX,
        currency=USD,
        price_precision=2,
        price_increment=Price.from_str("0.25"),
        multiplier=Quantity.from_int(50),
        lot_size=Quantity.from_int(1),
        underlying="ES",
        activation_ns=1_700_000_000_000_000_000,
        expiration_ns=1_900_000_000_000_000_000,
        ts_event=0,
        ts_init=0,
        margin_init=Decimal(0),
        margin_maint=Decimal(0),
        maker_fee=Decimal(0),
        taker_fee=Decimal(0),
        exchange="XCME",
    )


def instrument_for(kind: str):
    if kind == "ES":
        return es_contract()
    if kind == "EURUSD":
        return TestInstrumentProvider.default_fx_ccy("EUR/USD", Venue("SIM"))
    raise ValueError(kind)


class _Plan(StrategyConfig, frozen=True):
    instrument_id: InstrumentId
    orders: dict[int, tuple[str, str]]


class _Replay(Strategy):
    def __init__(self, config: _Plan) -> None:
        super().__init__(config)
        self.seen = 0

    def on_start(self) -> None:
        self.subscribe_quote_ticks(self.config.instrument_id)

    def on_quote_tick(self, tick: QuoteTick) -> None:
        order = self.config.orders.get(self.seen)
        self.seen += 1
        if order is not None:
            side = NtSide.BUY if order[0] == "buy" else NtSide.SELL
            self.submit_order(self.order_factory.market(self.config.instrument_id, side, Quantity.from_str(order[1])))


def run_reference(kind: str, steps: list[Step], size: str = "100000000") -> ReferenceResult:
    """Run ``steps`` through nautilus; return its fills and realised P&L."""
    instrument = instrument_for(kind)
    engine = BacktestEngine(
        BacktestEngineConfig(trader_id=TraderId("REF-001"), logging=LoggingConfig(bypass_logging=True))
    )
    venue = instrument.id.venue
    engine.add_venue(
        venue=venue,
        oms_type=OmsType.NETTING,
        account_type=AccountType.MARGIN,
        base_currency=USD,
        starting_balances=[Money(START_BALANCE, USD)],
        default_leverage=Decimal(1000),
    )
    engine.add_instrument(instrument)
    p = instrument.price_precision
    engine.add_data(
        [
            QuoteTick(
                instrument_id=instrument.id,
                bid_price=Price(float(s.bid), p),
                ask_price=Price(float(s.ask), p),
                bid_size=Quantity.from_str(size),
                ask_size=Quantity.from_str(size),
                ts_event=s.ts_ns,
                ts_init=s.ts_ns,
            )
            for s in steps
        ]
    )
    plan = {i: s.order for i, s in enumerate(steps) if s.order is not None}
    strategy = _Replay(_Plan(instrument_id=instrument.id, orders=plan))
    engine.add_strategy(strategy)
    engine.run()
    fills, commissions = [], Decimal(0)
    for order in engine.cache.orders():
        for ev in order.events:
            if isinstance(ev, OrderFilled):
                commissions += ev.commission.as_decimal()  # FX test instruments carry a taker fee
                fills.append((ev.ts_event, "buy" if ev.order_side == NtSide.BUY else "sell", ev.last_qty, ev.last_px))
    fills.sort(key=lambda f: f[0])
    balance = engine.cache.account_for_venue(venue).balance_total(USD).as_decimal()
    result = ReferenceResult(
        [(side, qty.as_decimal(), px.as_decimal()) for _, side, qty, px in fills],
        balance - Decimal(START_BALANCE) + commissions,
        len(steps),
    )
    engine.dispose()
    return result
