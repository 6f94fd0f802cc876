"""The replay driver's idle check over a real nats-server: durable consumers with work are busy."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

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


class _HandsOffBetweenStreams:
    """The real JetStream API, with one service step run right after the first stream's consumers are read.

    That is the moment the race needs: a service takes its input from the stream read later,
    publishes its output into the stream read earlier, and acknowledges, between the two reads.
    """

    def __init__(self, js: Any, first: str, step: Callable[[], Awaitable[None]]) -> None:
        self.js, self.first, self.step, self.fired = js, first, step, False

    async def streams_info(self) -> Any:
        return await self.js.streams_info()

    async def consumers_info(self, stream: str) -> Any:
        consumers = await self.js.consumers_info(stream)
        if stream == self.first and not self.fired:
            self.fired = True
            await self.step()
        return consumers


async def test_a_service_handing_work_on_between_two_streams_reads_is_never_seen_idle(
    nats_server: NatsServer, unique_token: str
) -> None:
    # agents take a signal from AT_SIGNALS and publish a proposal into AT_DECISIONS (read
    # before AT_SIGNALS): every consumer looked idle while exec-sim had the proposal to handle
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    early, late = f"Q{unique_token}A", f"Q{unique_token}B"
    await js.add_stream(name=early, subjects=[f"{early}.x"])
    await js.add_stream(name=late, subjects=[f"{late}.x"])
    explicit = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT)
    await js.pull_subscribe(f"{early}.x", durable="exec", config=explicit)
    agents = await js.pull_subscribe(f"{late}.x", durable="agents", config=explicit)
    await js.publish(f"{late}.x", b"signal")
    (signal,) = await agents.fetch(1, timeout=5)

    async def agents_finish() -> None:
        await js.publish(f"{early}.x", b"proposal")
        await signal.ack_sync()

    racing = _HandsOffBetweenStreams(js, early, agents_finish)
    assert await busy_consumers(racing) == [f"{early} (written during the check)"]  # type: ignore[arg-type]
    assert racing.fired
    assert await busy_consumers(js) == [f"{early}/exec"]  # the proposal, now seen
    await nc.close()
