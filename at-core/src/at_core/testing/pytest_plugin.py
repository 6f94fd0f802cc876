"""pytest fixtures every package's tests can use (registered via the ``pytest11`` entry point)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from at_core.events import Event
from at_core.runtime.provision import provision_url
from at_core.testing.examples import example_events
from at_core.testing.nats_server import NatsServer


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    """A real nats-server with JetStream on a free port and a temporary store, per test.

    Provisioned as the stack is (streams, buckets, every durable), because services only bind
    to durables; the server has no users, so tests connect as they like (as admin).
    """
    server = NatsServer().start()
    try:
        asyncio.run(provision_url(server.url))
        yield server
    finally:
        server.close()


@pytest.fixture
def nats_url(nats_server: NatsServer) -> str:
    return nats_server.url


@pytest.fixture
def unique_token() -> str:
    """A fresh token for subjects, durables and streams, so tests never collide."""
    return uuid.uuid4().hex[:12]


@pytest.fixture
def event_examples() -> dict[str, Event]:
    """A valid example of every event type, by ``event_type``."""
    return example_events()
