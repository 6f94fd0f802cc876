"""Scale-out: streams replicated 3 times on a three-node cluster survive losing a node."""

from __future__ import annotations

import asyncio

import pytest

from at_core import subjects
from at_core.events import Event
from at_core.metrics import MetricCatalog
from at_core.runtime.bus import Delivery, EventBus
from at_core.testing import all_examples
from e2e.cluster import NatsCluster

pytestmark = pytest.mark.slow


@pytest.fixture
async def cluster():
    c = NatsCluster().start()
    await c.wait_for_jetstream()
    yield c
    c.close()


async def test_replicated_streams_lose_nothing_when_a_node_dies(cluster: NatsCluster) -> None:
    bus = await EventBus.connect(cluster.urls, service="gateway", metrics=MetricCatalog("gateway").build())
    await bus.ensure_streams(replicas=3)
    info = await bus.js.stream_info("AT_EXECUTION")
    assert info.config.num_replicas == 3

    received: dict[str, Event] = {}
    done = asyncio.Event()
    examples = [e for e in all_examples() if subjects.stream_for_subject(subjects.subject_for(e)) is not None]

    # Two consumers on one durable share the work, like two replicas of a service.
    async def handler(event: Event, delivery: Delivery) -> None:
        received[event.event_id] = event
        if len(received) == len(examples):
            done.set()

    streams = {subjects.stream_for_subject(subjects.subject_for(e)).name for e in examples}
    for stream in streams:
        spec = next(s for s in subjects.STREAMS if s.name == stream)
        for _ in range(2):
            await bus.consume(
                spec.subjects[0] if len(spec.subjects) == 1 else f"{subjects.ROOT}.>",
                handler,
                durable=f"replicas-{stream}",
                stream=stream,
            )

    half = len(examples) // 2
    for event in examples[:half]:
        await bus.publish(event)
    cluster.nodes[0].stop(kill=True)  # lose a node mid-stream
    for event in examples[half:]:
        for attempt in range(40):  # a leader election can take a moment: retry, JetStream de-duplicates
            try:
                await bus.publish(event, timeout=1.0)
                break
            except Exception:
                if attempt == 39:
                    raise
                await asyncio.sleep(0.25)
    await asyncio.wait_for(done.wait(), 60)
    assert set(received) == {e.event_id for e in examples}
    await bus.close()
