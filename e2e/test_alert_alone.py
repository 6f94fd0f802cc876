"""A TradingView alert alone trades on paper: no quote ever sent, the whole stack as real processes.

The stack is started without the quotes every other stack test seeds: the alert's ``close`` is the
only price there is. The fill is at it, and the decision, order and fill say ``price_source: alert``.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from at_core.service_kit import Scope, dev_headers
from e2e.stack_harness import LiveStack, alert
from tools.trace import is_settled

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture
async def bare(tmp_path: Path):
    stack = LiveStack(tmp_path / "stack", accounts=1)
    try:  # LiveStack.start would seed quotes: start the processes and the tracer only
        stack.procs.start_all()
        await stack.wait_ready()
        await stack.tracer.start(stack.stack.nats_url, user="admin", password=stack.stack.admin_password)
        await stack.ledger.connect()
        yield stack
    finally:
        await stack.stop()


async def test_a_bare_alert_fills_on_paper_at_its_close_and_says_so(bare: LiveStack) -> None:
    async with bare.http("gateway") as http:
        correlation = await bare.post_alert(http, alert(0))
    events = await bare.tracer.wait_for(correlation, is_settled, timeout=60)
    by_type = {e.event_type: e for e in events}
    assert {"risk_decision", "order_submitted", "fill"} <= set(by_type), [e.event_type for e in events]
    decision, fill = by_type["risk_decision"], by_type["fill"]
    assert decision.approved, decision.reasons
    assert decision.price_source == "alert" and decision.mark_price == Decimal("6012.25")
    assert by_type["order_submitted"].price_source == "alert"
    assert fill.price == Decimal("6012.25") and fill.price_source == "alert"
    async with bare.http("exec_sim") as http:
        deadline = asyncio.get_running_loop().time() + 10
        shown: list[dict] = []
        while not shown and asyncio.get_running_loop().time() < deadline:
            resp = await http.get("/decisions", headers=dev_headers(Scope.VIEWER))
            shown = [d for d in resp.json() if d["correlation_id"] == correlation] if resp.status_code == 200 else []
            if not shown:
                await asyncio.sleep(0.1)
    assert shown and shown[0]["approved"] and shown[0]["price_source"] == "alert"
