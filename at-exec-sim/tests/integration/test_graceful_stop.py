"""SIGTERM (a deploy, Ctrl-C) stops exec-sim promptly with the prop-broker links configured: a
real process over a real nats-server, its ProjectX user hub and Tradovate socket connected to
the wire fakes on loopback. It exits 0, even when both sockets have gone silent (a half-open
connection: the close handshake gets no answer, which held a SIGTERM ~12 s), and an order in
flight at the signal is left recoverable: the next start finds it at the broker by its key and
places nothing twice."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from tests.helpers import factory
from tests.integration.test_broker_routing import Watch
from tests.integration.test_kill_mid_order import DEADLINE_S, Brokers, bracketed
from tests.integration.test_kill_mid_order import brokers as brokers  # the fixture
from tests.process import ExecSimProcess, exec_sim
from tests.wire import Relay

pytestmark = pytest.mark.integration
#: "Not hung": well below the ~12 s a silent socket held the stop for, far above the ~0.5 s it takes.
BOUND_S = 8


async def test_sigterm_exits_0_promptly_though_both_broker_sockets_have_gone_silent(brokers: Brokers) -> None:
    hub, ws = brokers.env["AT_EXEC_SIM_PROJECTX_HUB_URL"], brokers.env["AT_EXEC_SIM_TRADOVATE_WS_URL"]
    async with Relay(hub) as hub_relay, Relay(ws) as ws_relay:
        env = brokers.env | {
            "AT_EXEC_SIM_PROJECTX_HUB_URL": hub_relay.url(hub),
            "AT_EXEC_SIM_TRADOVATE_WS_URL": ws_relay.url(ws),
        }
        proc = ExecSimProcess(env, brokers.run_dir, "exec-sim")
        try:
            await proc.ready()
            await proc.logged("projectx_hub_subscribed", "tradovate_socket_synced")
            hub_relay.freeze()
            ws_relay.freeze()
            started = time.monotonic()
            code = await proc.terminate(BOUND_S)
            print(f"stopped in {time.monotonic() - started:.2f} s")  # for the README's figure (pytest -s)
        finally:
            await proc.stop()
    assert code == 0
    assert "Application shutdown complete." in proc.log.read_text()


@pytest.mark.parametrize("venue", ["TOPSTEPX", "TRADOVATE"])
async def test_an_entry_in_flight_at_sigterm_is_found_at_the_broker_by_the_next_start_and_placed_once(
    brokers: Brokers, venue: str
) -> None:
    account = "topstep-1" if venue == "TOPSTEPX" else "tradovate-1"
    fake: Any = brokers.px if venue == "TOPSTEPX" else brokers.tv
    fake.hang_places = True
    p = bracketed(factory(clock_ns=time.time_ns()), account, venue)  # within RESUBMIT_MAX_AGE_S at the restart
    watch = await Watch(p.correlation_id).start(brokers.nats.url)
    first = ExecSimProcess(brokers.env, brokers.run_dir, "exec-sim-1")
    try:
        await first.ready()
        await brokers.bus.publish(p)
        await asyncio.wait_for(fake.hung.wait(), DEADLINE_S)  # placed at the broker, its answer held
        assert await first.terminate(BOUND_S) == 0
    finally:
        await first.stop()
    coid = watch.first("risk_decision").client_order_id
    fake.hang_places = False
    fake.release.set()

    async with exec_sim(brokers.env, brokers.run_dir, "exec-sim-2") as again:
        await asyncio.wait_for(
            watch.until(lambda got: sum(1 for e in got if e.event_type == "order_accepted" and e.bracket_role) == 2),
            DEADLINE_S,
        )
        orders = await again.orders(account)
        assert [orders[c]["status"] for c in (coid, f"{coid}:sl", f"{coid}:tp")] == ["filled", "accepted", "accepted"]
        assert len(brokers.placed(venue, coid)) == 1  # found by its key, never placed twice
        assert len(fake.orders) == 3  # the entry and its two children
    await watch.close()
