"""Native brackets at ProjectX and Tradovate, end to end over a real nats-server: the entry and its
bracket go in one request, the venue's own children are adopted, the venue runs the OCO, and a
partial fill resizes the adopted children by modifies."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tests.helpers import T0, proposal
from tests.integration.test_broker_routing import Service
from tests.integration.test_prop_broker_routing import BRACKET, Prop
from tests.integration.test_prop_broker_routing import prop as prop  # the fixture

from at_core.clock import ManualClock
from at_core.models.enums import OrderSide

pytestmark = pytest.mark.integration
D = Decimal


def _children(prop: Prop, venue: str, coid: str) -> dict[str, dict]:  # type: ignore[type-arg]
    return prop.px.children(coid) if venue == "TOPSTEPX" else prop.tv.children(coid)


def _size(venue: str, child: dict) -> int:  # type: ignore[type-arg]
    return int(child["size"] if venue == "TOPSTEPX" else child["orderQty"])


@pytest.mark.parametrize("venue", ["TOPSTEPX", "TRADOVATE"])
async def test_the_entry_goes_with_its_native_bracket_in_one_request_and_the_venue_cancels_the_target(
    prop: Prop, venue: str
) -> None:
    account = "topstep-1" if venue == "TOPSTEPX" else "tradovate-1"
    p = proposal(prop.f, account, f"MESZ6.{venue}", OrderSide.BUY, "2")
    p = p.model_copy(update={"order": p.order.model_copy(update={"bracket": BRACKET})})
    async with Service(prop.settings, ManualClock(T0)) as svc:
        watch = await prop.send(p)
        await watch.until(lambda got: sum(1 for e in got if e.event_type == "order_accepted" and e.bracket_role) == 2)
        coid = watch.first("risk_decision").client_order_id
        fake = prop.px if venue == "TOPSTEPX" else prop.tv
        assert fake.places == 1  # one request placed the entry and both children
        kids = _children(prop, venue, coid)
        assert set(kids) == {"sl", "tp"} and all(_size(venue, k) == 2 for k in kids.values())
        accepted = {e.bracket_role: e.venue_order_id for e in watch.events if e.event_type == "order_accepted"
                    and e.bracket_role}  # fmt: skip
        assert accepted == {"stop_loss": str(kids["sl"]["id"]), "take_profit": str(kids["tp"]["id"])}
        if venue == "TOPSTEPX":
            assert (kids["sl"]["stopPrice"], kids["tp"]["limitPrice"]) == (5998.25, 6004.25)
            await prop.px.fill_child(coid, "sl", 2, D("5998.25"))
            assert prop.px.children(coid)["tp"]["status"] == 3  # the gateway's OCO
        else:
            sl, tp = kids["sl"]["id"], kids["tp"]["id"]
            assert (prop.tv.versions[sl]["stopPrice"], prop.tv.versions[tp]["price"]) == (5998.25, 6004.25)
            await prop.tv.fill(sl, 2, D("5998.25"))
            assert prop.tv.orders[tp]["ordStatus"] == "Canceled"  # Tradovate's OCO
        await svc.exec_sim.reconcile()
        await watch.until(lambda got: any(e.event_type == "order_canceled" and e.bracket_role for e in got))
        canceled = next(e for e in watch.events if e.event_type == "order_canceled")
        assert canceled.bracket_role == "take_profit"
        assert sum(1 for e in watch.events if e.event_type == "fill") == 2  # the entry and the stop, once each
        await watch.close()


@pytest.mark.parametrize("venue", ["TOPSTEPX", "TRADOVATE"])
async def test_a_partial_fill_resizes_the_venues_own_children_by_modifies(prop: Prop, venue: str) -> None:
    account = "topstep-1" if venue == "TOPSTEPX" else "tradovate-1"
    fake = prop.px if venue == "TOPSTEPX" else prop.tv
    fake.fill_parts = [1]  # the entry of 3 fills 1 now, the rest later
    p = proposal(prop.f, account, f"MESZ6.{venue}", OrderSide.BUY, "3")
    p = p.model_copy(update={"order": p.order.model_copy(update={"bracket": BRACKET})})
    async with Service(prop.settings, ManualClock(T0)) as svc:
        watch = await prop.send(p)
        await watch.until(lambda got: sum(1 for e in got if e.event_type == "order_accepted" and e.bracket_role) == 2)
        coid = watch.first("risk_decision").client_order_id
        assert [_size(venue, k) for k in _children(prop, venue, coid).values()] == [1, 1]  # adopted, brought to 1
        entry = fake.by_tag(coid)["id"]
        await fake.fill(entry, 2, D("6000.50"))
        await svc.exec_sim.reconcile()
        await watch.until(lambda got: sum(1 for e in got if e.event_type == "order_updated") == 2)
        assert [_size(venue, k) for k in _children(prop, venue, coid).values()] == [3, 3]
        assert fake.places == 1
        await watch.close()


@pytest.mark.parametrize("venue", ["TOPSTEPX", "TRADOVATE"])
async def test_a_lost_answer_and_a_restart_never_double_the_entry_or_its_children(prop: Prop, venue: str) -> None:
    account = "topstep-1" if venue == "TOPSTEPX" else "tradovate-1"
    fake = prop.px if venue == "TOPSTEPX" else prop.tv
    fake.lose_next_places = 1
    p = proposal(prop.f, account, f"MESZ6.{venue}", OrderSide.BUY, "2")
    p = p.model_copy(update={"order": p.order.model_copy(update={"bracket": BRACKET})})
    async with Service(prop.settings, ManualClock(T0)):
        watch = await prop.send(p)
        await watch.until(lambda got: any(e.event_type == "order_submitted" for e in got))
        coid = watch.first("risk_decision").client_order_id
    async with Service(prop.settings, ManualClock(T0 + 10 * 10**9)) as again:
        await watch.until(lambda got: sum(1 for e in got if e.event_type == "order_accepted" and e.bracket_role) == 2)
        orders = await again.orders(account)
        assert orders[f"{coid}:sl"]["status"] == "accepted" and orders[f"{coid}:tp"]["status"] == "accepted"
    assert len(_children(prop, venue, coid)) == 2
    assert len(fake.orders) == 3  # one entry, two children: nothing placed twice
    async with Service(prop.settings, ManualClock(T0 + 20 * 10**9)) as third:  # a restart keeps them adopted
        orders = await third.orders(account)
        assert orders[f"{coid}:sl"]["status"] == "accepted"
    await watch.close()
