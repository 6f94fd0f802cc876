"""From views to events: one analysis per agent, at most one proposal, ids derived from the signal."""

from __future__ import annotations

import asyncio

import pytest
from tests.helpers import T0, factory, signal

from at_agents.bootstrap import build
from at_agents.config import AgentsSettings
from at_core.clock import ManualClock
from at_core.models.enums import AssetClass
from at_core.serialization import stream_sha256


def _run(seed: int = 0) -> list:
    svc = build(AgentsSettings(seed=seed, replay_mode=True), ManualClock(T0))
    return asyncio.run(svc.on_signal(signal(factory())))


def test_a_signal_yields_one_analysis_per_agent_and_one_proposal() -> None:
    out = _run()
    types = [e.event_type for e in out]
    assert types.count("agent_analysis") == 4 and types.count("trade_proposal") == 1
    proposal = out[-1]
    sig = signal(factory())
    assert proposal.correlation_id == sig.correlation_id and proposal.causation_id == sig.event_id
    assert proposal.order.quantity == 2 and proposal.order.side == "buy"
    assert {v.agent_id for v in proposal.votes} == {
        "signal_follower",
        "trend_filter",
        "volatility_sizer",
        "session_guard",
    }


def test_abstaining_agents_say_why() -> None:
    out = _run()
    trend = next(e for e in out if e.event_type == "agent_analysis" and e.agent_id == "trend_filter")
    assert trend.abstained and "bars seen" in trend.abstain_reason


def test_the_same_signal_gives_byte_identical_outputs_whatever_the_seed() -> None:
    assert stream_sha256(_run(0)) == stream_sha256(_run(0)) == stream_sha256(_run(99))


@pytest.mark.parametrize(
    ("account", "instrument", "asset_class", "price", "quantity"),
    [
        ("paper-1", "MES.CME", AssetClass.FUTURE, "5000", "2"),
        ("topstep-50k-1", "ES.CME", AssetClass.FUTURE, "5000", "1"),
        ("apex-50k-1", "MES.CME", AssetClass.FUTURE, "5000", None),
        ("ftmo-100k-1", "EUR/USD.FX", AssetClass.FX, "1.085", "100000"),
        ("crypto-1", "BTC/USDT.BINANCE", AssetClass.CRYPTO_SPOT, "97000", "0.1"),
    ],
)
def test_the_default_rule_committee_proposes_for_every_account_and_asset_class(
    account: str, instrument: str, asset_class: AssetClass, price: str, quantity: str | None
) -> None:
    svc = build(AgentsSettings(replay_mode=True), ManualClock(T0))
    sig = signal(factory(), instrument, quantity=quantity, price=price, account=account, asset_class=asset_class)
    out = asyncio.run(svc.on_signal(sig))
    proposal = out[-1]
    assert proposal.event_type == "trade_proposal" and proposal.account_id == account
    assert proposal.order.side == "buy" and proposal.order.quantity > 0


def test_the_alerts_bracket_rides_on_the_proposals_entry_and_its_stop_sizes_it() -> None:
    from decimal import Decimal

    from at_core.models.brackets import BracketLevel, BracketSpec, BracketUnit

    bracket = BracketSpec(
        stop_loss=BracketLevel(value=Decimal(20), unit=BracketUnit.TICKS),
        take_profit=BracketLevel(value=Decimal(5010)),
    )
    svc = build(AgentsSettings(replay_mode=True), ManualClock(T0))
    sig = signal(factory(), quantity=None, account="apex-50k-1").model_copy(update={"bracket": bracket})
    proposal = asyncio.run(svc.on_signal(sig))[-1]
    assert proposal.event_type == "trade_proposal"
    assert proposal.order.bracket == bracket
    assert proposal.stop_price == Decimal(4995)  # 20 MES ticks under 5000: the stop the size risks to
