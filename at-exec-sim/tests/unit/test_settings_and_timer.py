"""Settings build the venue's models or fail at start with the setting's name; the live-mode
timer applies expiries without market data (driven here by a manual clock, not by sleeping)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from tests.helpers import T0, D, factory, proposal, quote

from at_core.clock import ManualClock
from at_core.events import TradingStateChangedEvent
from at_core.models.enums import OrderSide, OrderType, TimeInForce, TradingState
from at_exec_sim import bootstrap
from at_exec_sim.config import ExecSimSettings
from at_exec_sim.domain.venue_models import FeeModel, FixedTicks, NoSlippage, SpreadSlippage, VolumeShareSlippage


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, NoSlippage()),
        ({"AT_EXEC_SIM_SLIPPAGE_TICKS": "2"}, FixedTicks(D(2))),  # the shorthand the runbooks name
        ({"AT_EXEC_SIM_SLIPPAGE_MODEL": "fixed_ticks"}, FixedTicks(D(1))),
        ({"AT_EXEC_SIM_SLIPPAGE_MODEL": "fixed_ticks", "AT_EXEC_SIM_SLIPPAGE_TICKS": "3"}, FixedTicks(D(3))),
        ({"AT_EXEC_SIM_SLIPPAGE_MODEL": "spread", "AT_EXEC_SIM_SLIPPAGE_VALUE": "0.25"}, SpreadSlippage(D("0.25"))),
        (
            {"AT_EXEC_SIM_SLIPPAGE_MODEL": "volume_share", "AT_EXEC_SIM_SLIPPAGE_VOLUME_LIMIT": "0.05"},
            VolumeShareSlippage(D("0.05"), D("0.1")),
        ),
    ],
)
def test_the_slippage_settings_build_the_model(
    env: dict[str, str], expected: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert bootstrap.build_venue(ExecSimSettings()).slippage == expected


def test_fee_and_latency_settings_reach_the_venue() -> None:
    venue = bootstrap.build_venue(
        ExecSimSettings(
            fee_per_contract=D("1.10"),
            fx_bps=D("0.3"),
            fee_per_fill=D("0.05"),
            latency_submit_ns=1_000,
            latency_cancel_ns=200,
        )
    )
    assert venue.fees == FeeModel(
        per_contract=D("1.10"),
        fx_bps=D("0.3"),
        crypto_taker_bps=D(4),
        crypto_maker_bps=D(2),
        fixed_per_fill=D("0.05"),
    )
    assert (venue.latency.submit_delay(), venue.latency.cancel_delay()) == (1_000, 200)


def test_the_same_seed_gives_the_same_jitter() -> None:
    def delays(seed: int) -> list[int]:
        latency = bootstrap.build_venue(ExecSimSettings(latency_jitter_ns=1_000_000, seed=seed)).latency
        return [latency.submit_delay() for _ in range(20)]

    assert delays(1) == delays(1) != delays(2)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"slippage_model": "square_root"}, "slippage_model"),
        ({"slippage_model": "spread", "slippage_ticks": "1"}, "slippage_ticks"),
        ({"slippage_model": "none", "slippage_ticks": "2"}, "slippage_ticks"),
        ({"slippage_value": "1"}, "slippage_value"),
        ({"slippage_ticks": "1", "slippage_value": "2"}, "slippage_value"),
        ({"slippage_value": "-1", "slippage_model": "spread"}, "slippage_value"),
        ({"slippage_volume_limit": "0"}, "slippage_volume_limit"),
        ({"latency_submit_ns": "-1"}, "latency_submit_ns"),
        ({"latency_jitter_ns": "soon"}, "latency_jitter_ns"),
        ({"fee_per_fill": "-0.01"}, "fee_per_fill"),
        ({"timer_interval_s": "-1"}, "timer_interval_s"),
    ],
)
def test_an_unusable_setting_fails_at_start_naming_it(settings: dict[str, str], named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        ExecSimSettings(**settings)


async def test_the_live_timer_expires_a_gtd_order_without_market_data() -> None:
    clock = ManualClock(T0)
    svc = bootstrap.build(ExecSimSettings(), clock)  # no bus: outputs are returned, not published
    f = factory()
    await svc.handle(quote(f, "MES.CME", "5000.00", "5000.25"))
    gtd = proposal(
        f,
        "paper-1",
        "MES.CME",
        OrderSide.BUY,
        "1",
        order_type=OrderType.LIMIT,
        limit="4990",
        tif=TimeInForce.GTD,
        expire_ns=T0 + 60_000_000_000,
    )
    coid = (await svc.handle(gtd))[1].client_order_id
    assert await svc.tick() == []
    clock.set(T0 + 60_000_000_000)
    expired = await svc.tick()
    assert [(e.event_type, e.client_order_id) for e in expired] == [("order_expired", coid)]
    submitted = svc.engine.orders[coid].submitted
    assert submitted is not None and expired[0].causation_id == submitted.event_id and svc.ticks == 2


@pytest.mark.parametrize(
    ("replay_mode", "interval_s", "expected"),
    [(False, 1.0, 1.0), (False, 0.25, 0.25), (False, 0.0, None), (True, 1.0, None)],
)
def test_only_live_mode_runs_a_timer(replay_mode: bool, interval_s: float, expected: float | None) -> None:
    settings = ExecSimSettings(replay_mode=replay_mode, timer_interval_s=interval_s)
    assert bootstrap.timer_interval(settings) == expected


@pytest.mark.parametrize(
    ("state", "reason", "halted"),
    [
        (TradingState.HALTED, "daily_loss_limit", 1),
        (TradingState.HALTED, "kill_switch", 1),
        (TradingState.LOCKED_UNTIL, "session_cutoff", 0),  # every evening on a prop account: no page
        (TradingState.REDUCING, "operator", 0),
        (TradingState.ACTIVE, "session_open", 0),
    ],
)
def test_only_a_halt_raises_the_trading_halted_gauge(state: TradingState, reason: str, halted: int) -> None:
    svc = bootstrap.build(ExecSimSettings(), ManualClock(T0))
    event = factory().make(
        TradingStateChangedEvent,
        account_id="topstep-50k-1",
        state=state,
        previous_state=TradingState.ACTIVE,
        reason=reason,
        locked_until_ns=T0 + 1 if state is TradingState.LOCKED_UNTIL else None,
    )
    svc.observe(event, None)
    assert svc.metrics.gauge("trading_halted").labels("topstep-50k-1")._value.get() == halted
