"""Least privilege on the JetStream API: each service's user may use only what its role needs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client
from nats.js.api import ConsumerConfig, StreamConfig

from at_core import subjects
from at_core.durables import durables_of
from at_core.events import Event
from at_core.metrics import MetricCatalog
from at_core.permissions import GRANTS, nats_server_config
from at_core.runtime.bus import BusError, Delivery, EventBus, inbox_prefix
from at_core.runtime.provision import provision_url
from at_core.serialization import encode_event
from at_core.testing import NatsServer, example_events

pytestmark = pytest.mark.integration
PASSWORDS = {service: f"pw-{service}" for service in GRANTS}
SERVICES = tuple(GRANTS)
REFUSED = (nats.errors.TimeoutError, nats.js.errors.APIError, nats.errors.NoRespondersError)


@pytest.fixture
async def server() -> AsyncIterator[NatsServer]:
    srv = NatsServer(config=nats_server_config(PASSWORDS, admin_password="pw-admin")).start()
    await provision_url(srv.url, user="admin", password="pw-admin")
    yield srv
    srv.close()


async def _nc(server: NatsServer, service: str) -> Client:
    return await nats.connect(
        server.url, user=service, password=PASSWORDS[service], inbox_prefix=inbox_prefix(service), name=service
    )


async def _bus(server: NatsServer, service: str) -> EventBus:
    return await EventBus.connect(
        server.url, service=service, metrics=MetricCatalog(service).build(), user=service, password=PASSWORDS[service]
    )


@pytest.mark.parametrize("service", SERVICES)
async def test_no_service_may_update_purge_or_delete_a_stream(server: NatsServer, service: str) -> None:
    nc = await _nc(server, service)
    js = nc.jetstream(timeout=1.0)
    config = StreamConfig(name="AT_EXECUTION", subjects=[*subjects.STREAMS[3].subjects, "at.signal.>"])
    for attack in (
        js.update_stream(config),
        js.purge_stream("AT_EXECUTION"),
        js.delete_stream("AT_EXECUTION"),
        js.add_stream(StreamConfig(name="EVIL", subjects=["at.fill.>"])),
    ):
        with pytest.raises(REFUSED):
            await attack
    await nc.close()
    admin = await nats.connect(server.url, user="admin", password="pw-admin")
    info = await admin.jetstream().stream_info("AT_EXECUTION")
    assert list(info.config.subjects or []) == list(subjects.STREAMS[3].subjects)
    await admin.close()


@pytest.mark.parametrize("service", ["gateway", "agents", "obs"])
async def test_only_exec_sim_may_create_a_consumer_on_its_stream(server: NatsServer, service: str) -> None:
    nc = await _nc(server, service)
    js = nc.jetstream(timeout=1.0)
    with pytest.raises(REFUSED):
        await js.add_consumer("AT_EXECUTION", ConsumerConfig(durable_name="spy", filter_subject="at.fill.>"))
    with pytest.raises(REFUSED):
        await js.pull_subscribe("at.fill.>", stream="AT_EXECUTION")
    await nc.close()


@pytest.mark.parametrize("service", SERVICES)
async def test_no_service_may_delete_a_durable(server: NatsServer, service: str) -> None:
    nc = await _nc(server, service)
    js = nc.jetstream(timeout=1.0)
    with pytest.raises(REFUSED):
        await js.delete_consumer("AT_DECISIONS", "exec-sim-proposals")
    await nc.close()


@pytest.mark.parametrize("service", ["gateway", "agents", "exec_sim"])
async def test_no_service_but_the_recorder_may_get_a_message_by_sequence(server: NatsServer, service: str) -> None:
    exec_sim = await _bus(server, "exec_sim")
    await exec_sim.publish(example_events()["fill"])
    await exec_sim.close()
    nc = await _nc(server, service)
    js = nc.jetstream(timeout=1.0)
    with pytest.raises(REFUSED):
        await js.get_msg("AT_EXECUTION", 1)
    with pytest.raises(REFUSED):
        await js.get_msg("AT_EXECUTION", 1, direct=True)
    await nc.close()


async def test_the_gateway_may_read_its_own_signals_stream_by_sequence_only(server: NatsServer) -> None:
    """The first of a repeated alert, read by the sequence JetStream's duplicate ack names."""
    gateway = await _bus(server, "gateway")
    signal = example_events()["signal"]
    await gateway.publish(signal)
    await gateway.close()
    nc = await _nc(server, "gateway")
    js = nc.jetstream(timeout=1.0)
    stored = await js.get_msg("AT_SIGNALS", 1)
    with pytest.raises(REFUSED):
        await js.get_msg("AT_SIGNALS", 1, direct=True)
    await nc.close()
    assert signal.event_id.encode() in (stored.data or b"")


async def test_a_service_cannot_read_another_services_inbox(server: NatsServer) -> None:
    errors: asyncio.Queue[Exception] = asyncio.Queue()

    async def on_error(exc: Exception) -> None:
        await errors.put(exc)

    nc = await nats.connect(
        server.url, user="gateway", password=PASSWORDS["gateway"], inbox_prefix="_INBOX.gateway", error_cb=on_error
    )
    await nc.subscribe("_INBOX.exec_sim.>")
    await nc.flush()
    assert "permissions violation" in str(await asyncio.wait_for(errors.get(), 5)).lower()
    await nc.close()


@pytest.mark.parametrize("service", ["agents", "exec_sim", "obs"])
async def test_each_service_binds_to_and_pulls_from_its_own_durables(server: NatsServer, service: str) -> None:
    gateway = await _bus(server, "gateway")
    agents = await _bus(server, "agents")
    for event_type in ("signal", "market_data", "chart_snapshot", "execution_request"):
        await gateway.publish(example_events()[event_type])
    await agents.publish(example_events()["trade_proposal"])
    bus = await _bus(server, service)
    got: asyncio.Queue[str] = asyncio.Queue()

    async def handler(event: Event, _: Delivery) -> None:
        await got.put(event.event_type)

    for spec in durables_of(service):
        if spec.stream in ("AT_EXECUTION", "AT_DEAD_LETTERS"):
            continue
        await bus.consume(
            spec.filter_subject,
            handler,
            durable=spec.name(),
            stream=spec.stream,
            ack_wait_s=spec.ack_wait_s,
            max_deliver=spec.max_deliver,
        )
    assert await asyncio.wait_for(got.get(), 5)
    health = await bus.consumers_health()
    assert health and all(h.healthy for h in health)
    for closing in (bus, gateway, agents):
        await closing.close()


async def test_exec_sim_reads_its_stream_at_start_through_its_grant(server: NatsServer) -> None:
    exec_sim = await _bus(server, "exec_sim")
    fill = example_events()["fill"]
    await exec_sim.publish(fill)
    read = [event async for event, _ in exec_sim.read_stream("AT_EXECUTION")]
    assert read == [fill]
    await exec_sim.close()


async def test_a_service_may_not_create_its_own_durable(server: NatsServer) -> None:
    agents = await _bus(server, "agents")
    with pytest.raises(BusError, match="durable consumer agents-new"):
        await agents.consume(subjects.SIGNALS, _ignore, durable="agents-new")
    await agents.close()


async def _ignore(event: Event, delivery: Delivery) -> None:
    return None


async def test_the_gateway_may_not_publish_on_another_services_subject(server: NatsServer) -> None:
    nc = await _nc(server, "gateway")
    js = nc.jetstream(timeout=1.0)
    for event_type in ("fill", "risk_decision", "trade_proposal"):
        event = example_events()[event_type]
        with pytest.raises(REFUSED):
            await js.publish(subjects.subject_for(event), encode_event(event))
    await nc.close()


async def test_the_gateway_and_agents_use_their_buckets_and_agents_read_charts(server: NatsServer) -> None:
    gateway, agents = await _nc(server, "gateway"), await _nc(server, "agents")
    gjs, ajs = gateway.jetstream(timeout=2.0), agents.jetstream(timeout=2.0)
    dedup = await gjs.key_value(subjects.KV_BUCKET_DEDUP)
    await dedup.create("alert-1", b"01")
    assert (await dedup.get("alert-1")).value == b"01"
    memory = await ajs.key_value(subjects.KV_BUCKET_AGENT_MEMORY)
    await memory.put("s.i", b"{}")
    assert await memory.keys() == ["s.i"]
    await (await gjs.object_store(subjects.OBJECT_STORE_CHARTS)).put("MES/abc.png", b"\x89PNG")
    got = await (await ajs.object_store(subjects.OBJECT_STORE_CHARTS)).get("MES/abc.png")
    assert got.data == b"\x89PNG"
    with pytest.raises(REFUSED):  # agents read charts, never write them
        await (await ajs.object_store(subjects.OBJECT_STORE_CHARTS)).put("MES/evil.png", b"x")
    with pytest.raises(REFUSED):  # nor read the gateway's dedup records
        await (await ajs.key_value(subjects.KV_BUCKET_DEDUP)).get("alert-1")
    await gateway.close()
    await agents.close()


async def test_the_dead_letter_stream_is_bounded_and_drops_its_oldest_first(server: NatsServer) -> None:
    """Anyone on the internet can make the gateway refuse something: the refusals kept are bounded."""
    admin = await nats.connect(server.url, user="admin", password="pw-admin")
    try:
        config = (await admin.jetstream().stream_info("AT_DEAD_LETTERS")).config
    finally:
        await admin.close()
    spec = next(s for s in subjects.STREAMS if s.name == "AT_DEAD_LETTERS")
    assert config.max_bytes == spec.max_bytes > 0 and config.max_msgs == spec.max_msgs > 0
    assert config.discard == nats.js.api.DiscardPolicy.OLD
