"""P&L worked out by hand, per instrument, through the engine's portfolio."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tests.helpers import D, engine, factory, proposal, quote

from at_core.models.enums import OrderSide


def _round_trip(account: str, inst: str, qty: str, buy: tuple[str, str], sell: tuple[str, str], extra_quotes=()):
    eng, f = engine(), factory()
    for q in extra_quotes:
        eng.on_market_data(quote(f, *q))
    eng.on_market_data(quote(f, inst, *buy))
    eng.on_proposal(proposal(f, account, inst, OrderSide.BUY, qty))
    eng.on_market_data(quote(f, inst, *sell))
    eng.on_proposal(proposal(f, account, inst, OrderSide.SELL, qty))
    return eng.accounts[account]


@pytest.mark.parametrize(
    ("inst", "qty", "buy", "sell", "expected"),
    [
        # ES: buy 2 at 5000.25 (ask), sell at 5010.00 (bid): 9.75 points x 50 x 2 = 975.00
        ("ES.CME", "2", ("5000.00", "5000.25"), ("5010.00", "5010.25"), "975.00"),
        # MES: 9.75 points x 5 x 2 = 97.50
        ("MES.CME", "2", ("5000.00", "5000.25"), ("5010.00", "5010.25"), "97.50"),
        # CL: buy 1 at 70.05, sell at 69.90: -0.15 x 1000 = -150.00
        ("CL.NYMEX", "1", ("70.04", "70.05"), ("69.90", "69.91"), "-150.00"),
    ],
)
def test_futures_pnl_uses_the_multiplier(inst, qty, buy, sell, expected) -> None:
    rt = _round_trip("paper-1", inst, qty, buy, sell)
    assert rt.account.positions[inst].realized == D(expected)
    assert rt.account.balance == D(100000) + D(expected)


def test_eurusd_pnl_is_in_usd() -> None:
    # buy 100,000 at 1.08420, sell at 1.08520: 0.00100 x 100,000 = 100.00 USD
    rt = _round_trip("ftmo-100k-1", "EUR/USD.FX", "100000", ("1.08410", "1.08420"), ("1.08520", "1.08530"))
    assert rt.account.positions["EUR/USD.FX"].realized == D("100.00000")
    assert rt.account.balance == D("100100.00000")


def test_usdjpy_pnl_is_in_jpy_and_converted_to_usd_at_the_last_rate() -> None:
    # buy 100,000 at 154.220, sell at 154.520: 0.300 x 100,000 = 30,000 JPY; / 154.525 (mid) = 194.14 USD
    rt = _round_trip("ftmo-100k-1", "USD/JPY.FX", "100000", ("154.210", "154.220"), ("154.520", "154.530"))
    assert rt.account.positions["USD/JPY.FX"].realized == D("30000.000")
    assert (rt.account.balance - D(100000)).quantize(D("0.01")) == D("194.14")


def test_btcusdt_spot_pnl() -> None:
    # buy 0.5 at 97000.10, sell at 97500.00: 499.90 x 0.5 = 249.95 USDT
    rt = _round_trip("crypto-1", "BTC/USDT.BINANCE", "0.5", ("97000.00", "97000.10"), ("97500.00", "97500.10"))
    assert rt.account.positions["BTC/USDT.BINANCE"].realized == D("249.950")


def test_partial_close_and_flip_keep_the_average_price_right() -> None:
    eng, f = engine(), factory()
    eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.00"))
    eng.on_proposal(proposal(f, "paper-1", "MES.CME", OrderSide.BUY, "2"))
    eng.on_market_data(quote(f, "MES.CME", "5004.00", "5004.00"))
    eng.on_proposal(proposal(f, "paper-1", "MES.CME", OrderSide.SELL, "3"))  # closes 2 (+40), opens 1 short at 5004
    pos = eng.accounts["paper-1"].account.positions["MES.CME"]
    assert (pos.quantity, pos.avg_price, pos.realized) == (D(-1), D("5004.00"), D("40.00"))


def test_fees_reduce_the_balance() -> None:
    from at_exec_sim.domain.venue import FeeModel

    eng, f = engine(fees=FeeModel(per_contract=Decimal("0.62"))), factory()
    eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.25"))
    eng.on_proposal(proposal(f, "paper-1", "MES.CME", OrderSide.BUY, "2"))
    assert eng.accounts["paper-1"].account.balance == D("99998.76")
