"""Least privilege on the bus, against a real nats-server with per-service users."""

from __future__ import annotations

import asyncio

import nats
import pytest

from at_core.metrics import MetricCatalog
from at_core.models.enums import IngestSource
from at_core.permissions import GRANTS, nats_server_config
from at_core.runtime.bus import EventBus, PublishError
from at_core.runtime.provision import provision_url
from at_core.testing import NatsServer, example_events

pytestmark = pytest.mark.integration
PASSWORDS = {service: f"pw-{service}" for service in GRANTS}


@pytest.fixture
def secured_server():
    server = NatsServer(config=nats_server_config(PASSWORDS, admin_password="pw-admin")).start()
    yield server
    server.close()


async def _bus(server: NatsServer, service: str) -> EventBus:
    return await EventBus.connect(
        server.url, service=service, metrics=MetricCatalog(service).build(), user=service, password=PASSWORDS[service]
    )


async def _admin_setup(server: NatsServer) -> None:
    await provision_url(server.url, user="admin", password="pw-admin")


async def test_the_gateway_may_publish_signals(secured_server: NatsServer) -> None:
    await _admin_setup(secured_server)
    gateway = await _bus(secured_server, "gateway")
    ack = await gateway.publish(example_events()["signal"])
    assert ack is not None and ack.stream == "AT_SIGNALS"
    await gateway.close()


async def test_agents_may_publish_their_own_bar_signals_but_never_a_tradingview_one(secured_server: NatsServer) -> None:
    await _admin_setup(secured_server)
    agents = await _bus(secured_server, "agents")
    alert = example_events()["signal"]
    ack = await agents.publish(alert.model_copy(update={"origin": IngestSource.AGENT}))
    assert ack is not None and ack.stream == "AT_SIGNALS"
    with pytest.raises(PublishError):
        await agents.publish(alert, timeout=1.0)  # origin tradingview: the gateway's subjects only
    await agents.close()


@pytest.mark.parametrize(
    ("service", "event_type"),
    [
        ("gateway", "fill"),
        ("gateway", "order_submitted"),
        ("gateway", "trade_proposal"),
        ("agents", "fill"),
        ("agents", "risk_decision"),
        ("obs", "fill"),
    ],
)
async def test_a_forbidden_publish_is_refused(secured_server: NatsServer, service: str, event_type: str) -> None:
    await _admin_setup(secured_server)
    bus = await _bus(secured_server, service)
    with pytest.raises(PublishError):
        await bus.publish(example_events()[event_type], timeout=1.0)
    await bus.close()


async def test_the_server_reports_the_violation_to_the_client(secured_server: NatsServer) -> None:
    errors: asyncio.Queue[Exception] = asyncio.Queue()

    async def on_error(exc: Exception) -> None:
        await errors.put(exc)

    nc = await nats.connect(secured_server.url, user="agents", password=PASSWORDS["agents"], error_cb=on_error)
    await nc.publish("at.fill.acct.X", b"{}")
    await nc.flush()
    error = await asyncio.wait_for(errors.get(), 5)
    assert "permissions violation" in str(error).lower()
    await nc.close()


async def test_exec_sim_may_publish_fills_and_agents_may_read_them(secured_server: NatsServer) -> None:
    await _admin_setup(secured_server)
    agents = await nats.connect(secured_server.url, user="agents", password=PASSWORDS["agents"])
    sub = await agents.subscribe("at.fill.>")
    exec_sim = await _bus(secured_server, "exec_sim")
    await exec_sim.publish(example_events()["fill"])
    msg = await sub.next_msg(timeout=5)
    assert msg.subject.startswith("at.fill.")
    await exec_sim.close()
    await agents.close()


def test_every_service_has_a_grant() -> None:
    assert set(GRANTS) == {"gateway", "agents", "exec_sim", "obs"}
