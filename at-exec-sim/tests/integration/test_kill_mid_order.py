"""kill -9 of exec-sim mid-order, as a real process over a real nats-server, against the ProjectX
and Tradovate wire fakes on loopback: the entry with its native bracket reached the broker, and
exec-sim dies before it reads the answer (the fake holds it). The restarted exec-sim finds the
entry by its idempotency key (customTag / clOrdId) instead of placing it again, adopts the venue's
children once, books the stop's fill once and sees the target canceled; JetStream holds each fill
once."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import nats
import pytest
from tests.fakes.projectx import FakeProjectX
from tests.fakes.tradovate import FakeTradovate
from tests.helpers import factory, proposal, quote, without_sessions
from tests.integration.test_broker_routing import Watch
from tests.integration.test_prop_broker_routing import ACCOUNTS, BRACKET
from tests.process import ExecSimProcess, exec_sim
from tests.wire import serve

from at_core.events import Event, EventFactory
from at_core.metrics import MetricCatalog
from at_core.models.enums import OrderSide
from at_core.runtime.bus import EventBus
from at_core.serialization import decode_event
from at_core.testing import NatsServer

pytestmark = pytest.mark.integration
D = Decimal
DEADLINE_S = 30


@dataclass
class Brokers:
    nats: NatsServer
    bus: EventBus
    f: EventFactory
    px: FakeProjectX
    tv: FakeTradovate
    env: dict[str, str]
    run_dir: Path

    def placed(self, venue: str, coid: str) -> list[dict[str, Any]]:
        """The entries the venue's fake broker holds for ``coid`` (by its own client-id field)."""
        if venue == "TOPSTEPX":
            return [o for o in self.px.orders.values() if o["customTag"] == coid]
        return [c for c in self.tv.commands if c.get("clOrdId") == coid]


@pytest.fixture
async def brokers(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Brokers]:
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(ACCOUNTS)
    px, tv = FakeProjectX(), FakeTradovate()
    async with AsyncExitStack() as stack:
        px_url = await stack.enter_async_context(serve(px.app()))
        tv_url = await stack.enter_async_context(serve(tv.app()))
        stack.callback(px.release.set)  # unblock a held answer before the fakes stop
        stack.callback(tv.release.set)
        bus = await EventBus.connect(nats_server.url, service="test", metrics=MetricCatalog("test").build())
        stack.push_async_callback(bus.close)
        await bus.ensure_streams()
        f = factory()
        for inst in ("MESZ6.TOPSTEPX", "MESZ6.TRADOVATE"):
            await bus.publish(quote(f, inst, "6000.00", "6000.25"))
        settings = {
            "nats_url": nats_server.url,
            "accounts_file": str(accounts),
            # the process's clock is the wall clock: the rules hold at any hour the tests run
            "profiles_dir": str(without_sessions(tmp_path / "profiles", "topstepx_150k", "topstepx_50k", "apex_50k")),
            "projectx_user_name": px.user_name,
            "projectx_api_key": px.api_key,
            "projectx_account": px.account["name"],
            "projectx_base_url": px_url,
            "projectx_hub_url": f"{px_url}/hubs/user",
            "tradovate_name": tv.credentials["name"],
            "tradovate_password": tv.credentials["password"],
            "tradovate_app_id": tv.credentials["appId"],
            "tradovate_app_version": tv.credentials["appVersion"],
            "tradovate_cid": str(tv.credentials["cid"]),
            "tradovate_sec": tv.credentials["sec"],
            "tradovate_device_id": tv.credentials["deviceId"],
            "tradovate_account": tv.account["name"],
            "tradovate_symbols": "MESZ6",
            "tradovate_base_url": f"{tv_url}/v1",
            "tradovate_ws_url": tv_url.replace("http://", "ws://") + "/v1/websocket",
            "broker_poll_interval_s": "0.2",  # the poller books the stop's fill and the OCO
            "log_level": "INFO",
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith("AT_")}
        env |= {f"AT_EXEC_SIM_{k.upper()}": str(v) for k, v in settings.items()}
        yield Brokers(nats_server, bus, f, px, tv, env, tmp_path)


async def until(check: Callable[[], bool], what: str) -> None:
    """A fake broker's state reaches ``check`` (it changes on requests from exec-sim), with a deadline."""
    for _ in range(DEADLINE_S * 50):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def on_jetstream(url: str, event_type: str, coids: set[str]) -> list[Event]:
    """Every ``event_type`` event of these orders that the execution stream holds, in order."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info("AT_EXECUTION")
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            event = decode_event((await js.get_msg("AT_EXECUTION", seq)).data)
            if event.event_type == event_type and getattr(event, "client_order_id", None) in coids:
                out.append(event)
        return out
    finally:
        await nc.close()


def bracketed(f: EventFactory, account: str, venue: str) -> Event:
    p = proposal(f, account, f"MESZ6.{venue}", OrderSide.BUY, "2")
    return p.model_copy(update={"order": p.order.model_copy(update={"bracket": BRACKET})})


@pytest.mark.parametrize("venue", ["TOPSTEPX", "TRADOVATE"])
@pytest.mark.parametrize("age", ["resent", "held"])
async def test_a_kill_9_after_the_entry_reached_the_broker_and_before_its_answer_doubles_nothing(
    brokers: Brokers, venue: str, age: str
) -> None:
    """``resent``: the restart comes within AT_EXEC_SIM_RESUBMIT_MAX_AGE_S of the submission, so the
    entry is sent again with the same key and the adapter finds it at the broker; ``held``: the
    submission is older, the entry is held unknown and the poller finds it there by its key."""
    account = "topstep-1" if venue == "TOPSTEPX" else "tradovate-1"
    fake: Any = brokers.px if venue == "TOPSTEPX" else brokers.tv
    fake.hang_places = True
    # the service's clock is the wall clock; the proposal's time decides the age of the submission
    p = bracketed(factory(clock_ns=time.time_ns()) if age == "resent" else brokers.f, account, venue)
    watch = await Watch(p.correlation_id).start(brokers.nats.url)
    first = ExecSimProcess(brokers.env, brokers.run_dir, "exec-sim-1")
    try:
        await first.ready()
        await brokers.bus.publish(p)
        await asyncio.wait_for(fake.hung.wait(), DEADLINE_S)  # placed at the broker, the answer held
        first.kill9()
    finally:
        await first.stop()
    coid = watch.first("risk_decision").client_order_id
    assert [e.event_type for e in watch.events if e.event_type.startswith("order_")] == ["order_submitted"]
    # the entry is at the broker, exec-sim never read the answer: nothing but its submission was published
    fake.hang_places = False
    fake.release.set()

    assert len(brokers.placed(venue, coid)) == 1
    async with exec_sim(brokers.env, brokers.run_dir, "exec-sim-2") as again:
        await asyncio.wait_for(
            watch.until(lambda got: sum(1 for e in got if e.event_type == "order_accepted" and e.bracket_role) == 2),
            DEADLINE_S,
        )
        orders = await again.orders(account)
        assert (orders[coid]["status"], orders[f"{coid}:sl"]["status"], orders[f"{coid}:tp"]["status"]) == (
            "filled", "accepted", "accepted",
        )  # fmt: skip
        assert len(brokers.placed(venue, coid)) == 1  # found by its key at the broker, never placed twice
        kids = fake.children(coid)
        assert set(kids) == {"sl", "tp"}
        assert len(fake.orders) == 3  # one entry, its two children: nothing doubled
        if venue == "TOPSTEPX":
            await brokers.px.fill_child(coid, "sl", 2, D("5998.25"))
        else:
            await brokers.tv.fill(kids["sl"]["id"], 2, D("5998.25"))
        await watch.until(lambda got: any(e.event_type == "order_canceled" and e.bracket_role for e in got))
        canceled = [e for e in watch.events if e.event_type == "order_canceled"]
        assert [c.client_order_id for c in canceled] == [f"{coid}:tp"]
        orders = await again.orders(account)
        assert (orders[f"{coid}:sl"]["status"], orders[f"{coid}:tp"]["status"]) == ("filled", "canceled")
    if venue == "TOPSTEPX":
        assert brokers.px.children(coid)["tp"]["status"] == 3 and "CON.F.US.MES.Z26" not in brokers.px.positions
    else:
        assert brokers.tv.orders[kids["tp"]["id"]]["ordStatus"] == "Canceled"
        assert brokers.tv.positions[2665]["netPos"] == 0
    fills = await on_jetstream(brokers.nats.url, "fill", {coid, f"{coid}:sl", f"{coid}:tp"})
    assert sorted((f.client_order_id, f.quantity) for f in fills) == [(coid, D(2)), (f"{coid}:sl", D(2))]
    assert len({f.event_id for f in fills}) == len(fills)
    await watch.close()
    restarted = (brokers.run_dir / "exec-sim-2.log").read_text()
    assert ("in flight at a crash: not resent" in restarted) is (age == "held")
