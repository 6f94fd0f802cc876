"""The replay driver's idle check over a real nats-server: durable consumers with work are busy."""

from __future__ import annotations

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from at_core.testing import NatsServer
from at_obs.adapters.quiescence import busy_consumers, wait_quiescent

pytestmark = pytest.mark.integration


async def test_a_durable_with_unhandled_messages_is_busy_until_it_acknowledges_them(
    nats_server: NatsServer, unique_token: str
) -> None:
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    stream, subject = f"S{unique_token}", f"q.{unique_token}"
    await js.add_stream(name=stream, subjects=[subject])
    sub = await js.pull_subscribe(subject, durable="worker", config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT))
    await js.subscribe(subject, ordered_consumer=True)  # an ephemeral watcher is nobody's work queue
    assert await busy_consumers(js) == []
    for i in range(3):
        await js.publish(subject, str(i).encode())

    assert await wait_quiescent(js, timeout_s=0.2) == [f"{stream}/worker"]  # pending
    messages = await sub.fetch(3, timeout=5)
    assert await busy_consumers(js) == [f"{stream}/worker"]  # delivered, not acknowledged
    for msg in messages:
        await msg.ack_sync()
    assert await wait_quiescent(js, timeout_s=5) == []
    await nc.close()
