"""The shared fixture starts a real nats-server with JetStream."""

from __future__ import annotations

import nats
import pytest

from at_core.testing import NatsServer

pytestmark = pytest.mark.integration


async def test_fixture_server_has_jetstream(nats_server: NatsServer) -> None:
    nc = await nats.connect(nats_server.url)
    info = await nc.jetstream().account_info()
    assert info.limits is not None
    await nc.close()


def test_two_servers_get_different_ports() -> None:
    with NatsServer() as a, NatsServer() as b:
        assert a.port != b.port and a.running and b.running
