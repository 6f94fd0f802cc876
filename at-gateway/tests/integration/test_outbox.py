"""Nothing accepted is lost: the outbox carries events through a NATS outage, exactly once, and in
order per position (ordering lane): an alert queued for one position sends no other position's alert
to disk."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from tests.conftest import SECRET, RunningGateway, fixture_body
from tests.events import quote, signal

from at_core.events import Event
from at_core.metrics.gateway import CATALOG
from at_core.runtime.bus import EventBus, PublishError
from at_core.serialization import decode_event, encode_event
from at_core.testing import NatsServer
from at_gateway.adapters.outbox import Outbox
from at_gateway.adapters.publisher import DurablePublisher

pytestmark = pytest.mark.integration


async def _signal_count(url: str) -> int:
    nc = await nats.connect(url)
    try:
        return (await nc.jetstream().stream_info("AT_SIGNALS")).state.messages
    finally:
        await nc.close()


async def _stream(url: str, name: str = "AT_SIGNALS") -> list[Event]:
    """What the stream holds, in stream order."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        state = (await js.stream_info(name)).state
        return [decode_event((await js.get_msg(name, seq)).data) for seq in range(state.first_seq, state.last_seq + 1)]
    finally:
        await nc.close()


def _alert(ticker: str, alert_id: str) -> str:
    return fixture_body("strategy_alert.json", alert_id=alert_id).replace('"MES1!"', f'"{ticker}"')


async def _until(check, what: str, tries: int = 200) -> None:
    for _ in range(tries):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_an_alert_queued_for_one_position_sends_no_other_position_s_alert_to_disk(
    make_settings, nats_server: NatsServer
) -> None:
    gw = RunningGateway(make_settings(publish_timeout_s=0.3))
    await gw.start()
    wired = gw.server.config.app.state.service
    await wired.publisher.stop()  # no drain until the test says: the first alert stays queued
    nats_server.stop()
    post = f"/webhooks/tradingview/{SECRET}"
    assert (await gw.client.post(post, content=_alert("MES1!", "mes-1"))).status_code == 202  # NATS down: disk
    nats_server.start()

    async def connected() -> bool:
        return bool(wired.bus.connected)

    await _until(connected, "the gateway to reconnect")
    # Another instrument is another position: straight to JetStream, not behind MES's queued alert.
    assert (await gw.client.post(post, content=_alert("MNQ1!", "mnq-1"))).status_code == 202
    assert wired.outbox.depth() == 1
    assert [s.alert_id for s in await _stream(nats_server.url)] == ["mnq-1"]
    # MES again: it queues behind MES's first alert (NATS is up), and reaches JetStream after it.
    assert (await gw.client.post(post, content=_alert("MES1!", "mes-2"))).status_code == 202
    assert wired.outbox.depth() == 2
    wired.publisher.start()

    async def drained() -> bool:
        return bool((await gw.client.get("/readyz")).json()["outbox_depth"] == 0)

    await _until(drained, "the outbox to drain")
    assert [s.alert_id for s in await _stream(nats_server.url)] == ["mnq-1", "mes-1", "mes-2"]
    await gw.stop()


@pytest.fixture
async def bus_and_outbox(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[tuple[EventBus, Outbox]]:
    """The gateway's bus on the real nats-server (streams made) and a fresh outbox file."""
    bus = await EventBus.connect(nats_server.url, service="gateway", metrics=CATALOG.build())
    await bus.ensure_streams()
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    try:
        yield bus, outbox
    finally:
        outbox.close()
        await bus.close()


async def test_each_lane_keeps_its_order_and_an_event_of_no_lane_holds_back_every_lane(
    nats_server: NatsServer, bus_and_outbox: tuple[EventBus, Outbox]
) -> None:
    bus, outbox = bus_and_outbox
    publisher = DurablePublisher(bus, outbox, CATALOG.build(), timeout_s=2.0)
    a1, a2 = signal("paper-1", "MES.CME", "a1"), signal("paper-1", "MES.CME", "a2")
    b1, b2 = signal("paper-2", "MES.CME", "b1"), signal("paper-2", "MES.CME", "b2")
    md = quote("MES.CME")
    assert (await publisher.publish(a1, budget_s=0)).sink == "outbox"  # no time left: to disk
    assert (await publisher.publish(b1)).sink == "jetstream"  # another account: not held back
    assert (await publisher.publish(a2)).sink == "outbox"  # behind a1
    assert (await publisher.publish(md)).sink == "outbox"  # no lane: behind everything queued
    assert (await publisher.publish(b2)).sink == "outbox"  # behind the quote, which may matter to it
    assert outbox.depth() == 4 and outbox.lanes() == 3
    assert await publisher.drain_once() == 4
    assert [s.alert_id for s in await _stream(nats_server.url)] == ["b1", "a1", "a2", "b2"]
    assert [e.event_id for e in await _stream(nats_server.url, "AT_MARKET_DATA")] == [md.event_id]
    assert (await publisher.publish(signal("paper-1", "MES.CME", "a3"))).sink == "jetstream"  # drained


class HeldBus:
    """The real bus, except that the first publish of one event is held until released, then
    refused (a fast failure, such as a stream leader changing, at the moment the test chooses)."""

    def __init__(self, bus: EventBus, held_id: str) -> None:
        self.bus, self.held_id = bus, held_id
        self.started, self.release = asyncio.Event(), asyncio.Event()

    @property
    def connected(self) -> bool:
        return self.bus.connected

    async def publish(self, event: Event, **kwargs):
        if event.event_id != self.held_id or self.started.is_set():
            return await self.bus.publish(event, **kwargs)
        self.started.set()
        await self.release.wait()
        raise PublishError(event.event_id, "at.signal", "leader changed")


async def test_an_event_waits_for_an_earlier_publish_of_its_lane_in_flight_so_a_failure_keeps_the_order(
    nats_server: NatsServer, bus_and_outbox: tuple[EventBus, Outbox]
) -> None:
    bus, outbox = bus_and_outbox
    a1, a2 = signal("paper-1", "MES.CME", "a1"), signal("paper-1", "MES.CME", "a2")
    b1 = signal("paper-2", "MES.CME", "b1")
    held = HeldBus(bus, a1.event_id)
    publisher = DurablePublisher(held, outbox, CATALOG.build(), timeout_s=2.0)  # type: ignore[arg-type]
    first = asyncio.create_task(publisher.publish(a1))
    await held.started.wait()  # a1 is on its way, unanswered
    second = asyncio.create_task(publisher.publish(a2))
    assert (await publisher.publish(b1)).sink == "jetstream"  # another position does not wait
    await asyncio.sleep(0.1)
    assert not second.done()  # a2 waits for a1's answer
    held.release.set()  # a1 fails: to the outbox, and a2 behind it
    assert (await first).sink == "outbox" and (await second).sink == "outbox"
    assert len(publisher.in_flight) == 0  # nothing in flight is remembered
    assert await publisher.drain_once() == 2
    assert [s.alert_id for s in await _stream(nats_server.url)] == ["b1", "a1", "a2"]


async def test_an_outbox_written_before_lanes_is_migrated_and_drained_once_in_order(
    make_settings, nats_server: NatsServer
) -> None:
    settings = make_settings(publish_timeout_s=0.3)
    old = [
        signal("paper-1", "MES.CME", "old-1"),
        signal("paper-2", "MNQ.CME", "old-2"),
        signal("paper-1", "MES.CME", "old-3"),
    ]
    db = sqlite3.connect(settings.outbox_path, isolation_level=None)  # the format before lanes
    db.execute(
        "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT UNIQUE, data BLOB NOT NULL, msg_id TEXT)"
    )
    for s in old:
        db.execute("INSERT INTO outbox (event_id, data, msg_id) VALUES (?, ?, ?)", (s.event_id, encode_event(s), None))
    db.close()
    # The first row already reached JetStream before the old gateway died (published, not deleted).
    bus = await EventBus.connect(nats_server.url, service="gateway", metrics=CATALOG.build())
    await bus.ensure_streams()
    await bus.publish(old[0])
    await bus.close()

    gw = RunningGateway(settings)
    await gw.start()

    async def drained() -> bool:
        return bool((await gw.client.get("/readyz")).json()["outbox_depth"] == 0)

    await _until(drained, "the old outbox to drain")
    assert [s.alert_id for s in await _stream(nats_server.url)] == ["old-1", "old-2", "old-3"]  # once each
    await gw.stop()
    again = RunningGateway(settings.model_copy(update={"port": settings.port}))
    await again.start()
    assert (await again.client.get("/readyz")).json()["outbox_depth"] == 0
    assert (
        await again.client.post(f"/webhooks/tradingview/{SECRET}", content=_alert("MES1!", "new"))
    ).status_code == 202
    assert [s.alert_id for s in await _stream(nats_server.url)] == ["old-1", "old-2", "old-3", "new"]
    await again.stop()
    db = sqlite3.connect(settings.outbox_path)
    assert "lane" in {row[1] for row in db.execute("PRAGMA table_info(outbox)")}
    db.close()


async def test_an_alert_accepted_while_nats_is_down_arrives_exactly_once_after_restart(
    make_settings, nats_server: NatsServer
) -> None:
    gw = RunningGateway(make_settings(publish_timeout_s=0.3))
    await gw.start()
    nats_server.stop()
    resp = await gw.client.post(f"/webhooks/tradingview/{SECRET}", content=fixture_body("strategy_alert.json"))
    assert resp.status_code == 202
    ready = (await gw.client.get("/readyz")).json()
    assert ready["outbox_depth"] == 1 and not ready["ready"]
    nats_server.start()
    for _ in range(200):
        if (await gw.client.get("/readyz")).json()["outbox_depth"] == 0:
            break
        await asyncio.sleep(0.05)
    assert await _signal_count(nats_server.url) == 1
    await gw.stop()


async def test_the_outbox_survives_a_gateway_that_dies_after_answering(make_settings, nats_server: NatsServer) -> None:
    settings = make_settings(publish_timeout_s=0.3)
    gw = RunningGateway(settings)
    await gw.start()
    nats_server.stop()
    resp = await gw.client.post(f"/webhooks/tradingview/{SECRET}", content=fixture_body("strategy_alert.json"))
    assert resp.status_code == 202
    gw.server.force_exit = True  # the process goes away with the event only on disk
    await gw.stop()
    nats_server.start()
    again = RunningGateway(settings.model_copy(update={"port": settings.port}))
    await again.start()
    for _ in range(200):
        if (await again.client.get("/readyz")).json()["outbox_depth"] == 0:
            break
        await asyncio.sleep(0.05)
    assert await _signal_count(nats_server.url) == 1
    await again.stop()
