"""Prop-firm futures accounts at their platforms, end to end: a proposal over a real nats-server,
exec-sim's risk check, the ProjectX (TopstepX) and Tradovate adapters over real httpx, pysignalr
and websockets, and the platforms faked at the wire on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from tests.fakes.projectx import FakeProjectX
from tests.fakes.tradovate import FakeTradovate
from tests.helpers import T0, factory, proposal, quote
from tests.integration.test_broker_routing import Service, Watch, has
from tests.wire import serve

from at_core.clock import ManualClock
from at_core.events import EventFactory
from at_core.metrics import MetricCatalog
from at_core.models.brackets import BracketLevel, BracketSpec, BracketUnit
from at_core.models.enums import OrderSide
from at_core.runtime.bus import EventBus
from at_core.testing import NatsServer
from at_exec_sim.config import ExecSimSettings

pytestmark = pytest.mark.integration
D = Decimal

ACCOUNTS = """
accounts:
  - {account_id: topstep-1, profile: topstepx_150k, venue: TOPSTEPX}
  - {account_id: tradovate-1, profile: topstepx_50k, venue: TRADOVATE}
"""


@dataclass
class Prop:
    nats: NatsServer
    bus: EventBus
    f: EventFactory
    px: FakeProjectX
    tv: FakeTradovate
    settings: ExecSimSettings

    async def send(self, p) -> Watch:  # type: ignore[no-untyped-def]
        watch = await Watch(p.correlation_id).start(self.nats.url)
        await self.bus.publish(p)
        return watch


@pytest.fixture
async def prop(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Prop]:
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(ACCOUNTS)
    px, tv = FakeProjectX(), FakeTradovate()
    async with AsyncExitStack() as stack:
        px_url = await stack.enter_async_context(serve(px.app()))
        tv_url = await stack.enter_async_context(serve(tv.app()))
        bus = await EventBus.connect(nats_server.url, service="test", metrics=MetricCatalog("test").build())
        stack.push_async_callback(bus.close)
        await bus.ensure_streams()
        f = factory()
        for inst in ("MESZ6.TOPSTEPX", "MESZ6.TRADOVATE"):
            await bus.publish(quote(f, inst, "6000.00", "6000.25"))
        settings = ExecSimSettings(
            nats_url=nats_server.url,
            accounts_file=str(accounts),
            projectx_user_name=px.user_name,
            projectx_api_key=px.api_key,
            projectx_account=px.account["name"],
            projectx_base_url=px_url,
            projectx_hub_url=f"{px_url}/hubs/user",
            tradovate_name=tv.credentials["name"],
            tradovate_password=tv.credentials["password"],
            tradovate_app_id=tv.credentials["appId"],
            tradovate_app_version=tv.credentials["appVersion"],
            tradovate_cid=tv.credentials["cid"],
            tradovate_sec=tv.credentials["sec"],
            tradovate_device_id=tv.credentials["deviceId"],
            tradovate_account=tv.account["name"],
            tradovate_symbols="MESZ6",
            tradovate_base_url=f"{tv_url}/v1",
            tradovate_ws_url=tv_url.replace("http://", "ws://") + "/v1/websocket",
            timer_interval_s=0,
            broker_poll_interval_s=0,  # rounds are driven by the tests
            broker_check_interval_s=0,  # and so are the checks against the brokers
        )
        yield Prop(nats_server, bus, f, px, tv, settings)


async def test_an_alert_ends_in_a_fill_at_topstepx_booked_once_under_its_correlation_id(prop: Prop) -> None:
    async with Service(prop.settings, ManualClock(T0)) as svc:
        p = proposal(prop.f, "topstep-1", "MESZ6.TOPSTEPX", OrderSide.BUY, "2")
        watch = await prop.send(p)
        await watch.until(has("order_filled"))
        decision, fill = watch.first("risk_decision"), watch.first("fill")
        assert decision.approved is True
        assert (fill.venue, fill.quantity, fill.price, fill.fee) == ("TOPSTEPX", D(2), D("6000.25"), D("0.74"))
        assert prop.px.by_tag(decision.client_order_id)["size"] == 2  # our key in customTag
        assert {e.correlation_id for e in watch.events} == {p.correlation_id}
        await svc.exec_sim.check_brokers()
        await svc.exec_sim.check_brokers()
        (account,) = (await svc.client.get("/account", params={"account_id": "topstep-1"})).json()
        assert account["broker_mismatch"] is None
        await watch.close()


async def test_an_alert_ends_in_a_fill_at_tradovate_and_the_apex_no_automation_rule_holds(prop: Prop) -> None:
    async with Service(prop.settings, ManualClock(T0)):
        p = proposal(prop.f, "tradovate-1", "MESZ6.TRADOVATE", OrderSide.BUY, "1")
        watch = await prop.send(p)
        await watch.until(has("order_filled"))
        fill = watch.first("fill")
        assert (fill.venue, fill.quantity, fill.price) == ("TRADOVATE", D(1), D("6000.25"))
        assert fill.fee == D("0.50")  # Tradovate's fillFee for it, not the profile's estimate
        assert prop.tv.by_tag(watch.first("risk_decision").client_order_id)["orderQty"] == 1
        await watch.close()


async def test_an_account_whose_firm_forbids_automation_is_denied_before_the_broker(prop: Prop, tmp_path: Path) -> None:
    apex = tmp_path / "apex.yaml"  # the Tradovate login is an Apex account's (a venue is one account)
    apex.write_text("accounts:\n  - {account_id: apex-1, profile: apex_50k, venue: TRADOVATE}\n")
    async with Service(prop.settings.model_copy(update={"accounts_file": str(apex)}), ManualClock(T0)):
        watch = await prop.send(proposal(prop.f, "apex-1", "MESZ6.TRADOVATE", OrderSide.BUY, "1"))
        await watch.until(has("risk_decision"))
        decision = watch.first("risk_decision")
        assert decision.approved is False
        assert "automation_not_allowed" in {r.code for r in decision.reasons}
        assert prop.tv.places == 0
        await watch.close()


@pytest.mark.parametrize("venue", ["TOPSTEPX", "TRADOVATE"])
async def test_a_lost_answer_then_a_restart_of_exec_sim_mid_order_books_the_fill_once(prop: Prop, venue: str) -> None:
    account, fake = ("topstep-1", prop.px) if venue == "TOPSTEPX" else ("tradovate-1", prop.tv)
    fake.lose_next_places = 1  # placed at the broker, the answer lost on the way back
    p = proposal(prop.f, account, f"MESZ6.{venue}", OrderSide.BUY, "2")
    async with Service(prop.settings, ManualClock(T0)) as svc:
        watch = await prop.send(p)
        await watch.until(has("order_submitted"))
        coid = watch.first("risk_decision").client_order_id
        later = await prop.send(proposal(prop.f, account, f"MESZ6.{venue}", OrderSide.BUY, "1"))
        await later.until(has("order_filled"))  # the consumer went on: the first order was handled
        assert (await svc.orders(account))[coid]["status"] == "unknown"
        await later.close()
    # exec-sim restarts and finishes the interrupted order with the same key: found at the broker, not placed again
    async with Service(prop.settings, ManualClock(T0 + 10 * 10**9)) as again:
        await watch.until(has("order_filled"))
        assert (await again.orders(account))[coid]["status"] == "filled"
        assert sum(1 for e in watch.events if e.event_type == "fill") == 1
    if venue == "TOPSTEPX":
        assert len(prop.px.orders) == 2 and prop.px.positions["CON.F.US.MES.Z26"][0] == 3
    else:
        assert len(prop.tv.orders) == 2 and prop.tv.positions[2665]["netPos"] == 3
    await watch.close()


async def test_a_position_the_broker_holds_differently_is_a_mismatch_on_account_and_halts(prop: Prop) -> None:
    settings = prop.settings.model_copy(update={"broker_mismatch_halt": True})
    async with Service(settings, ManualClock(T0)) as svc:
        watch = await prop.send(proposal(prop.f, "topstep-1", "MESZ6.TOPSTEPX", OrderSide.BUY, "2"))
        await watch.until(has("order_filled"))
        prop.px.positions["CON.F.US.MES.Z26"] = (3, D("6000.25"))  # someone traded the account by hand
        await svc.exec_sim.check_brokers()  # once: maybe a fill not booked yet
        (account,) = (await svc.client.get("/account", params={"account_id": "topstep-1"})).json()
        assert account["broker_mismatch"] is None
        await svc.exec_sim.check_brokers()  # twice in a row: a mismatch
        (account,) = (await svc.client.get("/account", params={"account_id": "topstep-1"})).json()
        assert account["broker_mismatch"] == "MESZ6.TOPSTEPX: exec-sim 2, TOPSTEPX 3"
        assert account["trading_state"] == "halted"
        await watch.close()


BRACKET = BracketSpec(
    stop_loss=BracketLevel(value=D(8), unit=BracketUnit.TICKS),  # 2.00 below the entry
    take_profit=BracketLevel(value=D(16), unit=BracketUnit.TICKS),  # 4.00 above
)


def MANAGED(settings: ExecSimSettings) -> ExecSimSettings:
    """The settings with native brackets off at both venues: exec-sim places the children itself."""
    return settings.model_copy(update={"projectx_native_brackets": False, "tradovate_native_brackets": False})


@pytest.mark.parametrize("venue", ["TOPSTEPX", "TRADOVATE"])
async def test_without_native_brackets_exec_sim_places_the_children_and_the_stop_cancels_the_target_there(
    prop: Prop, venue: str
) -> None:
    account = "topstep-1" if venue == "TOPSTEPX" else "tradovate-1"
    p = proposal(prop.f, account, f"MESZ6.{venue}", OrderSide.BUY, "2")
    p = p.model_copy(update={"order": p.order.model_copy(update={"bracket": BRACKET})})
    async with Service(MANAGED(prop.settings), ManualClock(T0)) as svc:
        watch = await prop.send(p)
        await watch.until(lambda got: sum(1 for e in got if e.event_type == "order_accepted" and e.bracket_role) == 2)
        coid = watch.first("risk_decision").client_order_id
        if venue == "TOPSTEPX":
            sl, tp = prop.px.by_tag(f"{coid}:sl"), prop.px.by_tag(f"{coid}:tp")
            assert (sl["type"], sl["side"], sl["size"], sl["stopPrice"]) == (4, 1, 2, 5998.25)  # reduce-only stop
            assert (tp["type"], tp["side"], tp["size"], tp["limitPrice"]) == (1, 1, 2, 6004.25)
            await prop.px.fill(sl["id"], 2, D("5998.25"))
        else:
            sl, tp = prop.tv.by_tag(f"{coid}:sl"), prop.tv.by_tag(f"{coid}:tp")
            assert (prop.tv.versions[sl["id"]]["orderType"], prop.tv.versions[sl["id"]]["stopPrice"]) == (
                "Stop",
                5998.25,
            )
            assert (prop.tv.versions[tp["id"]]["orderType"], prop.tv.versions[tp["id"]]["price"]) == ("Limit", 6004.25)
            await prop.tv.fill(sl["id"], 2, D("5998.25"))
        await svc.exec_sim.reconcile()  # what the poller does on the push: the stop's fill, then OCO
        await watch.until(lambda got: any(e.event_type == "order_canceled" and e.bracket_role for e in got))
        canceled = next(e for e in watch.events if e.event_type == "order_canceled")
        assert (canceled.bracket_role, canceled.reason) == ("take_profit", "oco")
        if venue == "TOPSTEPX":
            assert prop.px.orders[tp["id"]]["status"] == 3  # canceled at the broker too: no orphan
            assert "CON.F.US.MES.Z26" not in prop.px.positions
        else:
            assert prop.tv.orders[tp["id"]]["ordStatus"] == "Canceled"
            assert prop.tv.positions[2665]["netPos"] == 0
        await watch.close()


@pytest.mark.parametrize("venue", ["TOPSTEPX", "TRADOVATE"])
async def test_without_native_brackets_a_partial_fill_resizes_the_children_at_the_broker(
    prop: Prop, venue: str
) -> None:
    account = "topstep-1" if venue == "TOPSTEPX" else "tradovate-1"
    fake = prop.px if venue == "TOPSTEPX" else prop.tv
    fake.fill_parts = [1]  # the entry of 3 fills 1 now, the rest later
    p = proposal(prop.f, account, f"MESZ6.{venue}", OrderSide.BUY, "3")
    p = p.model_copy(update={"order": p.order.model_copy(update={"bracket": BRACKET})})
    async with Service(MANAGED(prop.settings), ManualClock(T0)) as svc:
        watch = await prop.send(p)
        await watch.until(lambda got: sum(1 for e in got if e.event_type == "order_accepted" and e.bracket_role) == 2)
        coid = watch.first("risk_decision").client_order_id

        def size(tag: str) -> int:
            if venue == "TOPSTEPX":
                return int(prop.px.by_tag(tag)["size"])
            return int(prop.tv.by_tag(tag)["orderQty"])

        assert (size(f"{coid}:sl"), size(f"{coid}:tp")) == (1, 1)
        entry = prop.px.by_tag(coid)["id"] if venue == "TOPSTEPX" else prop.tv.by_tag(coid)["id"]
        await fake.fill(entry, 2, D("6000.50"))
        await svc.exec_sim.reconcile()
        await watch.until(lambda got: sum(1 for e in got if e.event_type == "order_updated") == 2)
        assert (size(f"{coid}:sl"), size(f"{coid}:tp")) == (3, 3)  # resized at the broker, not only in exec-sim
        await watch.close()
