"""A TradingView alert with a bracket through the whole stack as real processes: the entry fills and
its stop and target rest; exec-sim is killed (-9) and restarted and the children still work; the
stop fills on a falling quote and the target is cancelled, each once."""

from __future__ import annotations

import json
import signal
import time
from decimal import Decimal
from pathlib import Path

import pytest

from at_core.service_kit import Scope, dev_headers
from e2e.stack_harness import LiveStack

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture
async def live(tmp_path: Path):
    stack = LiveStack(tmp_path / "stack")
    await stack.start()
    yield stack
    await stack.stop()


def _children_accepted(events) -> bool:
    return sum(1 for e in events if e.event_type == "order_accepted" and getattr(e, "bracket_role", None)) == 2


def _oco_done(events) -> bool:
    return any(e.event_type == "order_canceled" and getattr(e, "reason", "") == "oco" for e in events)


async def test_a_bracket_alert_fills_rests_its_children_survives_a_kill_and_the_stop_cancels_the_target(
    live: LiveStack,
) -> None:
    body = json.dumps(
        {
            "ticker": "MES1!",
            "exchange": "CME_MINI",
            "close": "6012.25",
            "strategy": {"order": {"action": "buy", "contracts": "1"}},
            "alert_id": f"e2e-bracket-{time.time_ns()}",
            "stop_loss_ticks": "8",
            "take_profit_ticks": "16",
        }
    )
    async with live.http("gateway") as http:
        correlation = await live.post_alert(http, body)
    events = await live.tracer.wait_for(correlation, _children_accepted, timeout=60)
    assert _children_accepted(events), [e.event_type for e in events]
    entry_fill = next(e for e in events if e.event_type == "fill" and e.bracket_role is None)
    stops = {e.bracket_role: e.order for e in events if e.event_type == "order_submitted" and e.bracket_role}
    assert stops["stop_loss"].stop_price == entry_fill.price - 2  # 8 MES ticks of 0.25
    assert stops["take_profit"].limit_price == entry_fill.price + 4

    live.procs.kill("exec_sim", signal.SIGKILL)
    live.procs.start("exec_sim")
    await live.wait_ready(services=("exec_sim",))
    async with live.http("exec_sim") as http:
        rows = (await http.get("/orders", params={"account_id": "paper-1"})).json()
    working = {r["bracket_role"] for r in rows if r["bracket_role"] and r["status"] == "accepted"}
    assert working == {"stop_loss", "take_profit"}

    below = str(entry_fill.price - 3)
    quote = {"kind": "quote", "symbol": "CME_MINI:MES1!", "bid": below, "ask": str(entry_fill.price - Decimal("2.75")),
             "bid_size": "40", "ask_size": "35"}  # fmt: skip
    async with live.http("gateway") as http:
        resp = await http.post("/ingest/market-data", json={"items": [quote]}, headers=dev_headers(Scope.TRADER))
        assert resp.status_code == 202, resp.text
    events = await live.tracer.wait_for(correlation, _oco_done, timeout=60)
    exits = [e for e in events if e.event_type == "fill" and e.bracket_role == "stop_loss"]
    canceled = [e for e in events if e.event_type == "order_canceled"]
    assert len(exits) == 1 and str(exits[0].price) == below
    assert [(c.bracket_role, c.reason) for c in canceled] == [("take_profit", "oco")]
