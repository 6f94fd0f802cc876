"""The whole stack as real processes: an alert's full story, crashes, a NATS restart, a burst.

Outcomes are read back from the JetStream streams (:class:`e2e.ledger.Ledger`), the system of
record, so an event published while a test's own subscriber reconnected still counts. The
crash, restart and burst tests give every alert a paper account of its own: what they check
is delivery (nothing lost, nothing doubled), so no alert's decision may depend on how soon
the position from the previous alert reached the agents.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from e2e.stack_harness import LiveStack, account_secret, alert
from tools.trace import is_settled

pytestmark = [pytest.mark.stack, pytest.mark.slow]

ACCOUNTS = 1000
SETTLE_S = 120.0


@pytest.fixture
async def live(tmp_path: Path):
    stack = LiveStack(tmp_path / "stack", accounts=ACCOUNTS)
    await stack.start()
    yield stack
    await stack.stop()


async def _post_alerts(live: LiveStack, numbers: range) -> list[str]:
    """One alert per number, each on its own account, alternating buys and sells, sent concurrently."""
    async with live.http("gateway") as http:
        posts = (live.post_alert(http, alert(i, long=i % 2 == 0), account_secret(i)) for i in numbers)
        return list(await asyncio.gather(*posts))


async def _assert_each_ended_in_exactly_one_filled_order(live: LiveStack, correlations: list[str]) -> None:
    await live.ledger.wait_until(lambda ledger: ledger.settled(correlations), timeout=SETTLE_S)
    bad = live.ledger.not_exactly_one_filled_order(correlations)
    assert not bad, f"{len(bad)} of {len(correlations)} alerts: {dict(list(bad.items())[:5])}"


async def test_an_alert_yields_the_whole_chain_under_one_correlation_id_in_the_audit_trail(live: LiveStack) -> None:
    async with live.http("gateway") as http:
        correlation = await live.post_alert(http, alert(0))
    events = await live.tracer.wait_for(correlation, is_settled, timeout=30)
    types = {e.event_type for e in events}
    assert {
        "signal",
        "agent_analysis",
        "trade_proposal",
        "risk_decision",
        "order_submitted",
        "fill",
        "position",
    } <= types, types
    wanted = {"signal", "trade_proposal", "risk_decision", "fill"}
    story: list[str] = []
    async with live.http("obs") as http:
        deadline = asyncio.get_running_loop().time() + 30
        while not wanted <= set(story) and asyncio.get_running_loop().time() < deadline:
            resp = await http.get("/audit", params={"correlation_id": correlation})
            story = [r["event_type"] for r in resp.json()] if resp.status_code == 200 else []
            await asyncio.sleep(0.1)
    assert wanted <= set(story), story
    assert story[0] == "signal"
    assert story.index("trade_proposal") < story.index("risk_decision") < story.index("fill")


@pytest.mark.parametrize("victim", ["exec_sim", "agents"])
async def test_kill_9_mid_stream_then_restart_loses_and_doubles_nothing(live: LiveStack, victim: str) -> None:
    correlations = await _post_alerts(live, range(10))
    live.procs.kill(victim, signal.SIGKILL)
    correlations += await _post_alerts(live, range(10, 20))  # accepted while the victim is down
    live.procs.start(victim)
    await live.wait_ready(services=(victim,))
    await _assert_each_ended_in_exactly_one_filled_order(live, correlations)


async def test_nothing_the_gateway_accepted_is_lost_when_nats_restarts(live: LiveStack) -> None:
    correlations = await _post_alerts(live, range(5))
    live.procs.kill("nats", signal.SIGKILL)
    correlations += await _post_alerts(live, range(5, 10))  # into the gateway's outbox
    live.procs.start("nats")
    await live.wait_ready()
    await _assert_each_ended_in_exactly_one_filled_order(live, correlations)
    async with live.http("obs") as http:  # and the recorder caught up with all of it
        missing = set(correlations)
        deadline = asyncio.get_running_loop().time() + 60
        while missing and asyncio.get_running_loop().time() < deadline:
            for c in sorted(missing):
                resp = await http.get("/audit", params={"correlation_id": c})
                if resp.status_code == 200 and "fill" in {r["event_type"] for r in resp.json()}:
                    missing.discard(c)
            await asyncio.sleep(0.2)
    assert not missing, f"no fill in the audit trail for {sorted(missing)}"


async def test_a_burst_of_1000_alerts_in_10_seconds_is_all_processed(live: LiveStack) -> None:
    # The ledger reads outcomes from the streams; the tracer (every event decoded as it passes)
    # would only take CPU from the stack on these two cores.
    await live.tracer.stop()
    async with live.http("gateway", connections=250, keepalive=False) as http:  # TradingView opens one per alert
        loop = asyncio.get_running_loop()
        start = loop.time()

        async def post(i: int) -> str:
            await asyncio.sleep(max(0.0, start + i * 0.01 - loop.time()))  # 100 alerts/s, paced
            return await live.post_alert(http, alert(i, long=i % 2 == 0), account_secret(i))

        correlations = await asyncio.gather(*(post(i) for i in range(1000)))
    assert len(set(correlations)) == 1000
    await _assert_each_ended_in_exactly_one_filled_order(live, list(correlations))
