"""Risk-based sizing in the account's currency (issue 12): the stop's loss is in the instrument's
P&L currency, the risk in the account's, and at-core's ``risk_quantity`` converts between them."""

from __future__ import annotations

import pytest
from tests.helpers import T0, D, factory, signal

from at_agents.domain.agents.signal_follower import SignalFollower
from at_agents.domain.context import MarketContext
from at_agents.domain.sizing import risk_size
from at_core.catalog import InstrumentCatalog
from at_core.markets.money import MissingRateError
from at_core.models.enums import AssetClass

CAT = InstrumentCatalog()


def test_usd_jpy_on_a_usd_account_is_sized_in_dollars_not_yen() -> None:
    # 1% of 100,000 USD = 1,000 USD; a stop 0.39 away loses 0.39 JPY a unit = 0.0026 USD at 150.00:
    # 1,000 / 0.0026 = 384,615.38 -> 384,615 units (reading yen as dollars gave 2,564)
    qty = risk_size(CAT.get("USD/JPY.FX"), D(100000), D("0.01"), D("150.00"), D("149.61"), "USD", {"USD/JPY": D(150)})
    assert qty == D(384615)


def test_a_short_is_sized_on_the_distance_up_to_its_stop() -> None:
    qty = risk_size(CAT.get("USD/JPY.FX"), D(100000), D("0.01"), D("150.00"), D("150.39"), "USD", {"USD/JPY": D(150)})
    assert qty == D(384615)


def test_sizing_without_a_rate_raises_rather_than_guessing() -> None:
    with pytest.raises(MissingRateError):
        risk_size(CAT.get("EUR/GBP.FX"), D(100000), D("0.01"), D("0.8500"), D("0.8450"), "USD", {})


def test_the_follower_sizes_usd_jpy_with_the_rate_it_has_seen_and_the_account_currency() -> None:
    f, ctx = factory(), MarketContext()
    ctx.equity["fx-1"] = (T0 - 1, D(100000))
    ctx.currency["fx-1"] = "USD"
    ctx.last_price["USD/JPY.FX"] = (T0 - 1, D(150))
    sig = signal(
        f, "USD/JPY.FX", quantity=None, price="150.00", stop="149.61", account="fx-1", asset_class=AssetClass.FX
    )
    view = SignalFollower(CAT).analyze(sig, ctx, T0)
    assert view.quantity == D(384615) and "USD" in view.rationale


def test_the_follower_abstains_when_no_rate_converts_the_stop_loss() -> None:
    f, ctx = factory(), MarketContext()
    ctx.equity["fx-1"] = (T0 - 1, D(100000))
    ctx.currency["fx-1"] = "USD"
    ctx.last_price["EUR/GBP.FX"] = (T0 - 1, D("0.85"))  # no GBP/USD seen
    sig = signal(
        f, "EUR/GBP.FX", quantity=None, price="0.8500", stop="0.8450", account="fx-1", asset_class=AssetClass.FX
    )
    view = SignalFollower(CAT).analyze(sig, ctx, T0)
    assert view.abstained and "GBP->USD" in (view.abstain_reason or "")


def test_a_rate_seen_after_the_decision_time_is_not_used() -> None:
    ctx = MarketContext()
    ctx.last_price["GBP/USD.FX"] = (T0 + 1, D("1.27"))
    ctx.last_price["BTC/USDT:USDT.BINANCE"] = (T0 - 1, D(97000))
    assert ctx.rates_at(T0) == {}  # the future quote and a perpetual are not rates
