"""Slippage, fee and latency models, each worked by hand."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from tests.helpers import D

from at_core.catalog import InstrumentCatalog
from at_core.models.enums import LiquiditySide
from at_exec_sim.domain.venue_models import (
    FeeModel,
    FixedTicks,
    LatencyModel,
    NoSlippage,
    Quote,
    SlippageModel,
    SpreadSlippage,
    VolumeShareSlippage,
    slippage_model,
)
from at_exec_sim.errors import ConfigError

CATALOG = InstrumentCatalog()
ES, FX, BTC = CATALOG.get("ES.CME"), CATALOG.get("EUR/USD.FX"), CATALOG.get("BTC/USDT.BINANCE")
QUOTE = Quote(bid=D("5000.00"), ask=D("5000.50"), volume=D(1000))


@pytest.mark.parametrize(
    ("model", "instrument", "qty", "price", "quote", "expected"),
    [
        # no slippage
        (NoSlippage(), ES, "10", "5000.50", QUOTE, "0"),
        # fixed ticks: 2 x 0.25
        (FixedTicks(D(2)), ES, "10", "5000.50", QUOTE, "0.50"),
        # spread: 0.5 x (5000.50 - 5000.00)
        (SpreadSlippage(D("0.5")), ES, "1", "5000.50", QUOTE, "0.25"),
        # spread with one side unknown: nothing to measure
        (SpreadSlippage(D("0.5")), ES, "1", "5000.50", Quote(None, D("5000.50"), D(0)), "0"),
        # volume share: share 10 / 1000 = 0.01; 0.01^2 x 0.1 x 5000 = 0.05
        (VolumeShareSlippage(), ES, "10", "5000", QUOTE, "0.05"),
        # volume share capped at 0.025: 0.025^2 x 0.1 x 5000 = 0.3125
        (VolumeShareSlippage(), ES, "100", "5000", QUOTE, "0.3125"),
        # no volume known: LEAN charges the maximum, 0.025^2 x 0.1 x 5000 = 0.3125
        (VolumeShareSlippage(), ES, "1", "5000", Quote(None, None, D(0)), "0.3125"),
        # ... except FX, which reports no volume: 0
        (VolumeShareSlippage(), FX, "100000", "1.08", Quote(None, None, D(0)), "0"),
        # a custom price impact: 0.01^2 x 0.5 x 5000 = 0.25
        (VolumeShareSlippage(price_impact=D("0.5")), ES, "10", "5000", QUOTE, "0.25"),
    ],
)
def test_each_slippage_model_charges_its_adverse_move_per_unit(
    model: SlippageModel, instrument, qty: str, price: str, quote: Quote, expected: str
) -> None:
    assert model.slippage(instrument, D(qty), D(price), quote) == D(expected)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("none", None, NoSlippage()),
        ("fixed_ticks", None, FixedTicks(D(1))),
        ("fixed_ticks", D(3), FixedTicks(D(3))),
        ("spread", None, SpreadSlippage(D("0.5"))),
        ("spread", D("0.25"), SpreadSlippage(D("0.25"))),
        ("volume_share", None, VolumeShareSlippage(D("0.025"), D("0.1"))),
        ("volume_share", D("0.2"), VolumeShareSlippage(D("0.025"), D("0.2"))),
    ],
)
def test_a_slippage_model_is_built_from_its_name_and_value(name: str, value: Decimal | None, expected) -> None:
    assert slippage_model(name, value) == expected


@pytest.mark.parametrize(
    ("name", "value", "volume_limit", "field"),
    [
        ("square_root", None, D("0.025"), "slippage_model"),
        ("fixed_ticks", D(-1), D("0.025"), "slippage_value"),
        ("none", D(1), D("0.025"), "slippage_value"),
        ("volume_share", None, D(0), "slippage_volume_limit"),
        ("volume_share", None, D("1.5"), "slippage_volume_limit"),
    ],
)
def test_an_unusable_slippage_setting_is_a_config_error_naming_it(
    name: str, value: Decimal | None, volume_limit: Decimal, field: str
) -> None:
    with pytest.raises(ConfigError) as err:
        slippage_model(name, value, volume_limit)
    assert err.value.what == field


FEES = FeeModel(
    per_contract=D("0.62"), fx_bps=D("0.5"), crypto_taker_bps=D(4), crypto_maker_bps=D(2), fixed_per_fill=D(0)
)


@pytest.mark.parametrize(
    ("fees", "instrument", "qty", "price", "liquidity", "expected"),
    [
        # per contract: 3 x 0.62
        (FEES, ES, "3", "5000", LiquiditySide.TAKER, "1.86"),
        # per contract does not care who took liquidity
        (FEES, ES, "3", "5000", LiquiditySide.MAKER, "1.86"),
        # crypto taker: 0.5 x 97,000 = 48,500 x 4 bps
        (FEES, BTC, "0.5", "97000", LiquiditySide.TAKER, "19.40000000"),
        # crypto maker: 48,500 x 2 bps
        (FEES, BTC, "0.5", "97000", LiquiditySide.MAKER, "9.70000000"),
        # FX: 100,000 x 1.08420 = 108,420 x 0.5 bps
        (FEES, FX, "100000", "1.08420", LiquiditySide.TAKER, "5.42100000"),
        # a fixed fee per fill on top: 1.86 + 1.00
        (FeeModel(per_contract=D("0.62"), fixed_per_fill=D(1)), ES, "3", "5000", LiquiditySide.TAKER, "2.86"),
        # ... and on top of basis points: 19.40 + 1.00
        (FeeModel(fixed_per_fill=D(1)), BTC, "0.5", "97000", LiquiditySide.TAKER, "20.40000000"),
    ],
)
def test_each_fee_model_charges_a_fill_as_worked_by_hand(
    fees: FeeModel, instrument, qty: str, price: str, liquidity: LiquiditySide, expected: str
) -> None:
    assert fees.fee(instrument, D(qty), D(price), liquidity) == D(expected)


@pytest.mark.parametrize(
    ("latency", "submits", "cancels"),
    [
        (LatencyModel(), [0, 0], [0]),
        (LatencyModel(submit_ns=1_000, cancel_ns=300), [1_000, 1_000], [300]),
    ],
)
def test_a_constant_latency_delays_every_submit_and_cancel_alike(
    latency: LatencyModel, submits: list[int], cancels: list[int]
) -> None:
    assert [latency.submit_delay() for _ in submits] == submits
    assert [latency.cancel_delay() for _ in cancels] == cancels


def test_jitter_is_reproducible_from_a_seed_and_stays_within_its_bound() -> None:
    def delays(seed: int) -> list[int]:
        model = LatencyModel(submit_ns=1_000, cancel_ns=200, jitter_ns=500, rng=random.Random(seed))
        return [model.submit_delay() if i % 2 else model.cancel_delay() for i in range(50)]

    first = delays(7)
    assert first == delays(7)
    assert first != delays(8)
    assert all(1_000 <= d <= 1_500 for d in first[1::2]) and all(200 <= d <= 700 for d in first[0::2])
    assert len(set(first)) > 2  # it does jitter


@pytest.mark.parametrize("field", ["submit_ns", "cancel_ns", "jitter_ns"])
def test_a_negative_latency_is_a_config_error(field: str) -> None:
    with pytest.raises(ConfigError) as err:
        LatencyModel(**{field: -1})
    assert err.value.what == f"latency_{field}"
