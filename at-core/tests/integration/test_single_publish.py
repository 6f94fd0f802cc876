"""One event published at a time (``EventBus.publish``), against a real nats-server: its ack comes
through the bus's own reply subscription (``runtime/acks.py``), as ``publish_many``'s do."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from nats.js.api import DiscardPolicy

from at_core.events import Event
from at_core.metrics import MetricCatalog
from at_core.runtime.bus import EventBus, PublishError
from at_core.testing import NatsServer, example_events

pytestmark = pytest.mark.integration


async def _bus(url: str) -> EventBus:
    bus = await EventBus.connect(url, service="gateway", metrics=MetricCatalog("gateway").build())
    await bus.ensure_streams()
    return bus


def _signal(n: int) -> Event:
    signal = example_events()["signal"]
    return signal.model_copy(update={"event_id": f"{signal.event_id[:-4]}{n:04d}"})


async def test_a_publish_is_acknowledged_with_its_stream_sequence_and_a_repeat_of_its_id_as_a_duplicate(
    nats_url: str,
) -> None:
    bus = await _bus(nats_url)
    first = await bus.publish(_signal(1), msg_id="single-publish-repeat")
    again = await bus.publish(_signal(2), msg_id="single-publish-repeat")
    assert first is not None and first.stream == "AT_SIGNALS" and not first.duplicate
    assert again is not None and again.duplicate and again.seq == first.seq
    await bus.close()


async def test_a_publish_the_stream_refuses_fails_with_the_servers_error_not_a_timeout() -> None:
    with NatsServer() as server:
        bus = await _bus(server.url)
        info = await bus.js.stream_info("AT_SIGNALS")
        await bus.js.update_stream(replace(info.config, max_msgs=1, discard=DiscardPolicy.NEW))
        await bus.publish(_signal(1))
        with pytest.raises(PublishError) as refused:
            await bus.publish(_signal(2), timeout=5.0)
        assert "ServiceUnavailableError" in refused.value.reason
        await bus.close()


async def test_a_publish_past_its_deadline_fails_with_a_timeout_and_its_late_ack_finds_nothing_waiting(
    nats_url: str,
) -> None:
    bus = await _bus(nats_url)
    with pytest.raises(PublishError) as late:
        await bus.publish(_signal(3), timeout=1e-9)  # over before the ack can be read
    assert "TimeoutError" in late.value.reason
    ack = await bus.publish(_signal(3))  # the first was stored all the same: JetStream drops the retry
    assert ack is not None and ack.duplicate
    assert not bus._publisher._acks._pending  # nothing left waiting, the late ack included
    await bus.close()


async def test_a_cancelled_publish_leaves_no_ack_waiting(nats_url: str) -> None:
    bus = await _bus(nats_url)
    task = asyncio.create_task(bus.publish(_signal(4)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.2)  # the ack, if it comes, arrives meanwhile
    assert not bus._publisher._acks._pending
    await bus.close()
