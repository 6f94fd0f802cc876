"""P&L of the same trades agrees with nautilus_trader's BacktestEngine to the cent, fees off and on.

The trades are backtesting.py's moving-average cross on its EURUSD hourly sample (the ones
``test_backtest_vs_backtesting_py`` checks). at-backtest runs them through the real signal
follower, risk engine and simulated venue; nautilus_trader runs the same market orders, at the
same bars' closes, through its own matching engine and NETTING margin account (quotes with bid
= ask = the close, so both fill at the price backtesting.py traded at). Per trade we compare
entry and exit prices, gross P&L (nautilus's realized P&L plus its commissions), fees and net
P&L (nautilus's ``PositionClosed.realized_pnl``), and the total against the change of
nautilus's account balance.

Fees: a fixed fee per fill (exec-sim's ``AT_EXEC_SIM_FEE_PER_FILL``, nautilus's
``FixedFeeModel``) agrees exactly. A fee in basis points of the notional (1 bp a side, as in the
backtesting.py check) is kept by nautilus in the account currency's precision, each fill's
commission rounded to the cent, while exec-sim rounds a trade's fees once: there every gross
P&L agrees exactly, each of nautilus's commissions is the fill's 1 bp rounded to the cent, and
a trade's fees differ by at most the one cent those two roundings can make.

The nautilus reference lives here, not in at-exec-sim's tests: services never import each other.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pytest
from backtesting import Backtest, Strategy
from backtesting.lib import crossover
from backtesting.test import EURUSD, SMA
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.backtest.models import FixedFeeModel, MakerTakerFeeModel
from nautilus_trader.config import LoggingConfig, StrategyConfig
from nautilus_trader.model.currencies import EUR, USD
from nautilus_trader.model.data import QuoteTick
from nautilus_trader.model.enums import AccountType, OmsType
from nautilus_trader.model.enums import OrderSide as NtSide
from nautilus_trader.model.events import OrderFilled, PositionClosed
from nautilus_trader.model.identifiers import InstrumentId, Symbol, TraderId, Venue
from nautilus_trader.model.instruments import CurrencyPair
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.trading.strategy import Strategy as NtStrategy

pytestmark = pytest.mark.integration
DATA = Path(__file__).resolve().parents[1] / "data" / "backtest"
EXE = str(Path(sys.executable).parent / "at-backtest")
BARS = 400
SIZE = 10_000
CENT = Decimal("0.01")
START = 1_000_000  # USD at nautilus; at-backtest's own starting balance does not enter the P&L
HOUR_NS = 3_600 * 10**9


class SmaCross(Strategy):
    def init(self) -> None:
        self.fast = self.I(SMA, self.data.Close, 10)
        self.slow = self.I(SMA, self.data.Close, 30)

    def next(self) -> None:
        if crossover(self.fast, self.slow):
            self.buy(size=SIZE)
        elif crossover(self.slow, self.fast):
            self.sell(size=SIZE)


@dataclass(frozen=True)
class Trade:
    """One round trip: entered at the close of bar ``entry_bar``, left at the close of ``exit_bar``."""

    side: str  # long | short
    entry_bar: int
    exit_bar: int
    entry: Decimal
    exit: Decimal


@dataclass(frozen=True)
class NautilusTrade:
    entry: Decimal
    exit: Decimal
    commissions: list[Decimal]  # the entry fill's, then the exit fill's
    realized_pnl: Decimal  # nautilus's: net of commissions

    @property
    def gross(self) -> Decimal:
        return self.realized_pnl + sum(self.commissions, Decimal(0))


def the_trades() -> tuple[pd.DataFrame, list[Trade]]:
    data = EURUSD.iloc[:BARS]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "some trades remain open" at the end of the sample
        stats = Backtest(data, SmaCross, cash=100_000, trade_on_close=True, exclusive_orders=True).run()
    trades = [
        Trade(
            "long" if t.Size > 0 else "short",
            int(t.EntryBar),
            int(t.ExitBar),
            Decimal(str(t.EntryPrice)),
            Decimal(str(t.ExitPrice)),
        )
        for t in stats._trades.itertuples()
    ]
    return data, trades


# --- nautilus_trader ---------------------------------------------------------------------


class _Plan(StrategyConfig, frozen=True):
    instrument_id: InstrumentId
    orders: dict[int, list[str]]  # quote index -> sides of the market orders sent on it, in order


class _Orders(NtStrategy):
    """Sends the planned market orders on their quotes; keeps every PositionClosed."""

    def __init__(self, config: _Plan) -> None:
        super().__init__(config)
        self.seen = 0
        self.closed: list[PositionClosed] = []

    def on_start(self) -> None:
        self.subscribe_quote_ticks(self.config.instrument_id)

    def on_quote_tick(self, tick: QuoteTick) -> None:
        for side in self.config.orders.get(self.seen, []):
            nt_side = NtSide.BUY if side == "buy" else NtSide.SELL
            self.submit_order(self.order_factory.market(self.config.instrument_id, nt_side, Quantity.from_int(SIZE)))
        self.seen += 1

    def on_event(self, event: object) -> None:
        if isinstance(event, PositionClosed):
            self.closed.append(event)


def eurusd(bps: Decimal) -> CurrencyPair:
    rate = bps / Decimal(10_000)
    return CurrencyPair(
        instrument_id=InstrumentId(Symbol("EUR/USD"), Venue("SIM")),
        raw_symbol=Symbol("EUR/USD"),
        base_currency=EUR,
        quote_currency=USD,
        price_precision=5,
        size_precision=0,
        price_increment=Price.from_str("0.00001"),
        size_increment=Quantity.from_int(1),
        ts_event=0,
        ts_init=0,
        maker_fee=rate,
        taker_fee=rate,
    )


def run_nautilus(
    data: pd.DataFrame, trades: list[Trade], bps: Decimal, per_fill: Decimal
) -> tuple[list[NautilusTrade], Decimal]:
    """The trades' market orders through nautilus; its trades and its account balance change."""
    instrument = eurusd(bps)
    engine = BacktestEngine(
        BacktestEngineConfig(trader_id=TraderId("OBS-001"), logging=LoggingConfig(bypass_logging=True))
    )
    fee_model = FixedFeeModel(Money(per_fill, USD), charge_commission_once=True) if per_fill else MakerTakerFeeModel()
    engine.add_venue(
        venue=instrument.id.venue,
        oms_type=OmsType.NETTING,
        account_type=AccountType.MARGIN,
        base_currency=USD,
        starting_balances=[Money(START, USD)],
        default_leverage=Decimal(100),
        fee_model=fee_model,
    )
    engine.add_instrument(instrument)
    # one quote at each bar's close (its open time plus the hour), bid = ask = the close
    quotes = []
    for ts, row in data.iterrows():
        close_ns = int(pd.Timestamp(ts).value) + HOUR_NS
        px = Price.from_str(f"{row.Close:.5f}")
        size = Quantity.from_int(100 * SIZE)
        quotes.append(QuoteTick(instrument.id, px, px, size, size, close_ns, close_ns))
    engine.add_data(quotes)
    # (bar, 0 = exit before 1 = entry, side): a trade's exit goes before the next one's entry on a bar
    orders = [(t.exit_bar, 0, "sell" if t.side == "long" else "buy") for t in trades]
    orders += [(t.entry_bar, 1, "buy" if t.side == "long" else "sell") for t in trades]
    plan: dict[int, list[str]] = {}
    for bar, _, side in sorted(orders):
        plan.setdefault(bar, []).append(side)
    strategy = _Orders(_Plan(instrument_id=instrument.id, orders=plan))
    engine.add_strategy(strategy)
    engine.run()
    fills: dict[str, OrderFilled] = {}
    for order in engine.cache.orders():
        for ev in order.events:
            if isinstance(ev, OrderFilled):
                fills[ev.client_order_id.value] = ev
    out = []
    for closed in strategy.closed:
        entry, exit_ = fills[closed.opening_order_id.value], fills[closed.closing_order_id.value]
        out.append(
            NautilusTrade(
                entry=entry.last_px.as_decimal(),
                exit=exit_.last_px.as_decimal(),
                commissions=[entry.commission.as_decimal(), exit_.commission.as_decimal()],
                realized_pnl=closed.realized_pnl.as_decimal(),
            )
        )
    balance = engine.cache.account_for_venue(instrument.id.venue).balance_total(USD).as_decimal()
    engine.dispose()
    return out, balance - Decimal(START)


# --- at-backtest ---------------------------------------------------------------------------


def run_at_backtest(tmp: Path, data: pd.DataFrame, trades: list[Trade], bps: Decimal, per_fill: Decimal) -> dict:
    bars = tmp / "eurusd_1h.csv"
    lines = ["time,open,high,low,close,volume"]
    lines += [f"{ts:%Y-%m-%dT%H:%M:%S}Z,{r.Open},{r.High},{r.Low},{r.Close},{r.Volume}" for ts, r in data.iterrows()]
    bars.write_text("\n".join(lines) + "\n")
    hour = data.index[1] - data.index[0]
    rows = ["Trade #,Type,Date/Time,Signal,Price USD,Position size (qty),Net P&L USD"]
    for n, t in enumerate(trades, start=1):
        side = "Long" if t.side == "long" else "Short"
        entry, exit_ = data.index[t.entry_bar] + hour, data.index[t.exit_bar] + hour  # the bars' closes
        rows.append(f"{n},Entry {side},{entry:%Y-%m-%d %H:%M},x,{t.entry},{SIZE},0")
        rows.append(f"{n},Exit {side},{exit_:%Y-%m-%d %H:%M},x,{t.exit},{SIZE},0")
    listed = tmp / "trades.csv"
    listed.write_text("\n".join(rows) + "\n")
    out = tmp / "r.json"
    args = [EXE, str(bars), str(listed), "--symbol", "FX:EURUSD", "--account", "paper-1", "--runs", "0"]
    args += ["--committees", str(DATA / "committees_signal_follower.yaml"), "--json", str(out)]
    args += ["--set", f"AT_EXEC_SIM_FX_BPS={bps}", "--set", f"AT_EXEC_SIM_FEE_PER_FILL={per_fill}"]
    args += ["--fee-per-contract", "0", "--starting-balance", "100000", "--profit-target", "1000000"]
    args += ["--day-tz", "UTC", "--day-roll", "00:00"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(out.read_text())


FEES = [
    pytest.param(Decimal(0), Decimal(0), id="fees off"),
    pytest.param(Decimal(0), Decimal("2.50"), id="fees on (2.50 a fill)"),
    pytest.param(Decimal(1), Decimal(0), id="fees on (1 bp a side)"),
]


@pytest.mark.parametrize(("bps", "per_fill"), FEES)
def test_every_trades_pnl_and_the_total_agree_with_nautilus_trader_to_the_cent(
    tmp_path: Path, bps: Decimal, per_fill: Decimal
) -> None:
    data, trades = the_trades()
    assert len(trades) >= 5 and {t.side for t in trades} == {"long", "short"}
    theirs, balance_change = run_nautilus(data, trades, bps, per_fill)
    assert len(theirs) == len(trades), "nautilus closed one position per trade"
    assert sum(t.realized_pnl for t in theirs) == balance_change, "nautilus's trades add up to its account"
    report = run_at_backtest(tmp_path, data, trades, bps, per_fill)
    ours = report["trades"]
    assert len(ours) == len(trades)
    rate = bps / Decimal(10_000)
    for mine, nt, t in zip(ours, theirs, trades, strict=True):
        assert Decimal(mine["entry_price"]) == nt.entry == t.entry
        assert Decimal(mine["exit_price"]) == nt.exit == t.exit
        assert Decimal(mine["gross_pnl"]) == nt.gross, (mine, nt)
        if not bps:  # a fee in whole cents: the same to the cent
            assert Decimal(mine["fees"]) == sum(nt.commissions, Decimal(0)) == 2 * per_fill
            assert Decimal(mine["net_pnl"]) == nt.realized_pnl
            continue
        exact = [px * SIZE * rate for px in (t.entry, t.exit)]
        assert Decimal(mine["fees"]) == sum(exact, Decimal(0)).quantize(CENT)
        assert nt.commissions in (
            [f.quantize(CENT, rounding=ROUND_HALF_EVEN) for f in exact],
            [f.quantize(CENT, rounding=ROUND_HALF_UP) for f in exact],
        ), "nautilus charged each fill 1 bp, in cents"
        assert abs(Decimal(mine["net_pnl"]) - nt.realized_pnl) <= CENT, "only the cent rounding can differ"
    total = Decimal(report["totals"]["net_pnl"])
    if bps:
        assert abs(total - balance_change) <= CENT * len(trades)
    else:
        assert total == balance_change
