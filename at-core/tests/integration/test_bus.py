"""The bus against a real nats-server: durable publish, explicit ack, redelivery, dedup, poison."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace

import pytest
from nats.aio.msg import Msg
from nats.js.api import DiscardPolicy

from at_core import subjects
from at_core.events import Event, Heartbeat, RejectedInputEvent
from at_core.metrics import MetricCatalog
from at_core.runtime.bus import Delivery, EventBus, Handler, PublishError
from at_core.serialization import decode_event, encode_event
from at_core.testing import NatsServer, example_events
from at_core.testing.examples import all_examples

pytestmark = pytest.mark.integration


async def _bus(url: str, service: str = "gateway") -> EventBus:
    bus = await EventBus.connect(url, service=service, metrics=MetricCatalog(service).build(), create_consumers=True)
    await bus.ensure_streams()
    return bus


def _queue_handler() -> tuple[asyncio.Queue[Event], Handler]:
    """A handler that puts every event it is given on a queue, and that queue."""
    got: asyncio.Queue[Event] = asyncio.Queue()

    async def handler(event: Event, _: Delivery) -> None:
        await got.put(event)

    return got, handler


async def _nothing(event: Event, delivery: Delivery) -> None:
    return None


async def test_published_signal_is_consumed_once_with_ids_in_headers(nats_url: str, unique_token: str) -> None:
    bus = await _bus(nats_url)
    signal = example_events()["signal"]
    got: asyncio.Queue[tuple[Event, Delivery]] = asyncio.Queue()

    async def handler(event: Event, delivery: Delivery) -> None:
        await got.put((event, delivery))

    await bus.consume(subjects.SIGNALS, handler, durable=f"t-{unique_token}")
    ack = await bus.publish(signal)
    assert ack is not None and ack.stream == "AT_SIGNALS"
    event, delivery = await asyncio.wait_for(got.get(), 5)
    assert event == signal
    assert delivery.headers[subjects.HEADER_CORRELATION_ID] == signal.correlation_id
    assert delivery.headers[subjects.HEADER_MSG_ID] == signal.event_id
    await bus.close()


async def test_republishing_the_same_event_is_dropped_by_jetstream(nats_url: str) -> None:
    bus = await _bus(nats_url)
    signal = example_events()["signal"]
    first = await bus.publish(signal)
    second = await bus.publish(signal)
    assert first is not None and second is not None
    assert second.duplicate and second.seq == first.seq
    await bus.close()


def _execution_events() -> list[Event]:
    streams = {e.event_id: subjects.stream_for_subject(subjects.subject_for(e)) for e in all_examples()}
    return [e for e in all_examples() if (spec := streams[e.event_id]) is not None and spec.name == "AT_EXECUTION"]


async def test_publish_many_stores_the_events_in_the_order_sent_each_acknowledged() -> None:
    events = _execution_events()
    with NatsServer() as server:
        bus = await _bus(server.url)
        acks = await bus.publish_many(events)
        assert all(ack is not None and not ack.duplicate for ack in acks)
        assert [ack.seq for ack in acks if ack] == list(range(1, len(events) + 1))
        sub = await bus.js.pull_subscribe(subjects.ALL, stream="AT_EXECUTION")
        stored = [decode_event(m.data).event_id for m in await sub.fetch(len(events), timeout=5)]
        assert stored == [e.event_id for e in events]
        again = await bus.publish_many(events)  # a retry of the lot: JetStream drops every repeat
        assert all(ack is not None and ack.duplicate for ack in again)
        await bus.close()


async def test_publish_many_reports_the_acknowledged_prefix_when_the_stream_refuses_the_rest() -> None:
    events = _execution_events()[:5]
    with NatsServer() as server:
        bus = await _bus(server.url)
        info = await bus.js.stream_info("AT_EXECUTION")
        await bus.js.update_stream(replace(info.config, max_msgs=2, discard=DiscardPolicy.NEW))
        with pytest.raises(PublishError) as refused:
            await bus.publish_many(events)
        assert refused.value.published == 2 and refused.value.event_id == events[2].event_id
        assert "ServiceUnavailableError" in refused.value.reason  # the server's refusal, not a timeout
        assert (await bus.js.stream_info("AT_EXECUTION")).state.messages == 2
        await bus.close()


async def test_publish_many_past_its_deadline_fails_on_the_first_unacknowledged_event_and_a_retry_stores_all(
    nats_url: str,
) -> None:
    events = _execution_events()[:4]
    bus = await _bus(nats_url)
    await bus.js.purge_stream("AT_EXECUTION")
    with pytest.raises(PublishError) as late:
        await bus.publish_many(events, timeout=1e-9)  # over before any ack can be read
    assert late.value.published == 0 and late.value.event_id == events[0].event_id
    assert "TimeoutError" in late.value.reason
    acks = await bus.publish_many(events)  # the late acks of the first try found nothing waiting
    assert [a.seq for a in acks if a] == [1, 2, 3, 4] and all(a and a.duplicate for a in acks)
    await bus.close()


async def test_a_failing_handler_gets_the_event_again(nats_url: str, unique_token: str) -> None:
    bus = await _bus(nats_url)
    seen: list[int] = []
    done = asyncio.Event()

    async def flaky(event: Event, delivery: Delivery) -> None:
        seen.append(delivery.num_delivered)
        if delivery.num_delivered == 1:
            raise RuntimeError("transient")
        done.set()

    await bus.consume(subjects.FILLS, flaky, durable=f"t-{unique_token}", nak_delay_s=0.05)
    await bus.publish(example_events()["fill"])
    await asyncio.wait_for(done.wait(), 10)
    assert seen == [1, 2]
    await bus.close()


async def test_undecodable_bytes_are_terminated_not_redelivered(nats_url: str, unique_token: str) -> None:
    bus = await _bus(nats_url)
    got, handler = _queue_handler()

    await bus.consume(subjects.FILLS, handler, durable=f"t-{unique_token}")
    await bus.js.publish(subjects.fill("acct", "ES.CME"), b"{not json")
    fill = example_events()["fill"]
    await bus.publish(fill)
    assert await asyncio.wait_for(got.get(), 5) == fill
    value = bus.metrics.counter("events_consumed_total").labels("unknown", "at.fill", "undecodable")._value.get()
    assert value == 1
    await bus.close()


async def test_core_subjects_are_published_without_jetstream(nats_url: str) -> None:
    bus = await _bus(nats_url)
    sub = await bus.nc.subscribe(subjects.HEARTBEATS)
    heartbeat = example_events()["heartbeat"]
    assert await bus.publish(heartbeat) is None
    msg = await sub.next_msg(timeout=5)
    assert isinstance(heartbeat, Heartbeat) and msg.subject == subjects.heartbeat("exec_sim")
    await bus.close()


async def test_publish_fails_with_a_typed_error_when_nats_is_gone() -> None:
    server = NatsServer().start()
    bus = await _bus(server.url)
    server.stop()
    with pytest.raises(PublishError) as info:
        await bus.publish(example_events()["signal"], timeout=0.5)
    assert info.value.subject.startswith("at.signal.")
    server.close()
    await bus.nc.close()


async def test_closing_a_bus_whose_server_is_gone_ends_instead_of_waiting_forever(unique_token: str) -> None:
    """A service stopped (SIGTERM) after NATS died must still exit: each closing step is bounded."""
    server = NatsServer().start()
    bus = await _bus(server.url)

    consumer = await bus.consume(subjects.SIGNALS, _nothing, durable=f"t-{unique_token}")
    server.stop(kill=True)
    await asyncio.wait_for(bus.close(), 60)  # a deadline against a hang, not a speed target
    assert not consumer.running and bus.metrics.gauge("nats_connected")._value.get() == 0
    server.close()


async def test_consumers_resume_after_a_server_restart(unique_token: str) -> None:
    server = NatsServer().start()
    bus = await _bus(server.url)
    got, handler = _queue_handler()

    await bus.consume(subjects.SIGNALS, handler, durable=f"t-{unique_token}")
    server.stop()
    server.start()
    reconnects = bus.metrics.counter("nats_reconnects_total")
    for _ in range(200):
        if reconnects._value.get() >= 1 and bus.connected:
            break
        await asyncio.sleep(0.05)
    signal = example_events()["signal"]
    await bus.publish(signal)
    assert await asyncio.wait_for(got.get(), 10) == signal
    await bus.close()
    server.close()


async def test_a_service_started_before_nats_connects_once_nats_is_up() -> None:
    server = NatsServer()
    connecting = asyncio.create_task(
        EventBus.connect(
            server.url, service="gateway", metrics=MetricCatalog("gateway").build(), initial_connect_deadline_s=20
        )
    )
    await asyncio.sleep(0.3)  # the service really is first: nothing listens yet
    assert not connecting.done()
    server.start()
    bus = await asyncio.wait_for(connecting, 20)
    assert bus.connected
    await bus.close()
    server.close()


async def test_without_a_deadline_a_missing_server_fails_fast_with_a_typed_error() -> None:
    from at_core.runtime.bus import BusError
    from at_core.testing import free_port

    with pytest.raises(BusError, match="cannot connect"):
        await EventBus.connect(
            f"nats://127.0.0.1:{free_port()}",
            service="gateway",
            metrics=MetricCatalog("gateway").build(),
            connect_timeout=0.5,
        )


def _fills(n: int) -> list[Event]:
    fill = example_events()["fill"]
    return [fill.model_copy(update={"event_id": f"{fill.event_id[:-2]}{i:02d}"}) for i in range(n)]


async def _settled(bus: EventBus, durable: str) -> tuple[int, int]:
    """(pending, ack_pending) of a consumer once nothing is in flight, or what it is after 5 s."""
    info = await bus.js.consumer_info("AT_EXECUTION", durable)
    deadline = asyncio.get_running_loop().time() + 5
    while (info.num_pending or info.num_ack_pending) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
        info = await bus.js.consumer_info("AT_EXECUTION", durable)
    return info.num_pending, info.num_ack_pending


async def test_a_batch_handler_gets_events_in_stream_order_and_all_are_acked(nats_url: str, unique_token: str) -> None:
    bus = await _bus(nats_url)
    fills = _fills(5)
    await bus.publish_many(fills)
    batches: list[list[str]] = []
    done = asyncio.Event()

    async def handler(items: list[tuple[Event, Delivery]]) -> None:
        batches.append([event.event_id for event, _ in items])
        if sum(map(len, batches)) == len(fills):
            done.set()

    await bus.consume_batches(subjects.FILLS, handler, durable=f"t-{unique_token}", batch=3)
    await asyncio.wait_for(done.wait(), 10)
    assert [event_id for batch in batches for event_id in batch] == [f.event_id for f in fills]
    assert max(map(len, batches)) <= 3
    assert await _settled(bus, f"t-{unique_token}") == (0, 0)
    ok = bus.metrics.counter("events_consumed_total").labels("fill", "at.fill", "ok")._value.get()
    assert ok == len(fills)
    await bus.close()


async def test_a_lingering_consumer_hands_events_published_one_by_one_over_as_one_batch(
    nats_url: str, unique_token: str
) -> None:
    bus = await _bus(nats_url)
    got: asyncio.Queue[list[str]] = asyncio.Queue()

    async def handler(items: list[tuple[Event, Delivery]]) -> None:
        await got.put([event.event_id for event, _ in items])

    await bus.consume_batches(subjects.FILLS, handler, durable=f"t-{unique_token}", linger_s=2.0)
    fills = _fills(3)
    for fill in fills:  # one by one, each acked: without the linger, each would be a batch of its own
        await bus.publish(fill)
    assert await asyncio.wait_for(got.get(), 10) == [f.event_id for f in fills]
    assert await _settled(bus, f"t-{unique_token}") == (0, 0)
    await bus.close()


async def test_a_lingering_consumer_hands_a_whole_batch_over_without_waiting_out_the_linger(
    nats_url: str, unique_token: str
) -> None:
    bus = await _bus(nats_url)
    fills = _fills(6)
    await bus.publish_many(fills)
    got: asyncio.Queue[list[str]] = asyncio.Queue()

    async def handler(items: list[tuple[Event, Delivery]]) -> None:
        await got.put([event.event_id for event, _ in items])

    # A linger far past the deadline below: only a full batch ending it early gets them in time.
    await bus.consume_batches(subjects.FILLS, handler, durable=f"t-{unique_token}", batch=3, linger_s=60.0)
    first = await asyncio.wait_for(got.get(), 10)
    second = await asyncio.wait_for(got.get(), 10)
    assert first + second == [f.event_id for f in fills]
    await bus.close()


async def test_a_failing_batch_is_redelivered_whole(nats_url: str, unique_token: str) -> None:
    bus = await _bus(nats_url)
    fills = _fills(4)
    await bus.publish_many(fills)
    calls: list[list[tuple[str, int]]] = []
    done = asyncio.Event()

    async def flaky(items: list[tuple[Event, Delivery]]) -> None:
        calls.append([(event.event_id, delivery.num_delivered) for event, delivery in items])
        if len(calls) == 1:
            raise RuntimeError("database away")
        if {event_id for call in calls[1:] for event_id, _ in call} == {f.event_id for f in fills}:
            done.set()

    await bus.consume_batches(subjects.FILLS, flaky, durable=f"t-{unique_token}", nak_delay_s=0.05)
    await asyncio.wait_for(done.wait(), 10)
    assert calls[0] == [(f.event_id, 1) for f in fills]
    assert all(n == 2 for call in calls[1:] for _, n in call)
    assert await _settled(bus, f"t-{unique_token}") == (0, 0)
    errors = bus.metrics.counter("events_consumed_total").labels("fill", "at.fill", "error")._value.get()
    assert errors == len(fills)
    await bus.close()


async def test_undecodable_bytes_in_a_batch_are_terminated_and_the_rest_handled(
    nats_url: str, unique_token: str
) -> None:
    bus = await _bus(nats_url)
    await bus.js.publish(subjects.fill("acct", "ES.CME"), b"{not json")
    fills = _fills(2)
    await bus.publish_many(fills)
    got: asyncio.Queue[list[Event]] = asyncio.Queue()

    async def handler(items: list[tuple[Event, Delivery]]) -> None:
        await got.put([event for event, _ in items])

    await bus.consume_batches(subjects.FILLS, handler, durable=f"t-{unique_token}")
    seen: list[Event] = []
    while len(seen) < len(fills):
        seen += await asyncio.wait_for(got.get(), 5)
    assert seen == fills
    assert await _settled(bus, f"t-{unique_token}") == (0, 0)
    await bus.close()


async def test_a_consumer_survives_an_ack_that_fails_and_the_event_comes_again(
    nats_url: str, unique_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bus = await _bus(nats_url)
    deliveries: list[int] = []
    done = asyncio.Event()
    real_ack = Msg.ack
    failed: list[bool] = []

    async def ack_once_lost(self: Msg) -> None:
        if not failed:  # the connection dropped as the first ack went out
            failed.append(True)
            raise ConnectionResetError("connection lost")
        await real_ack(self)

    monkeypatch.setattr(Msg, "ack", ack_once_lost)

    async def handler(event: Event, delivery: Delivery) -> None:
        deliveries.append(delivery.num_delivered)
        if delivery.num_delivered == 2:
            done.set()

    consumer = await bus.consume(subjects.FILLS, handler, durable=f"t-{unique_token}", ack_wait_s=1.0)
    await bus.publish(example_events()["fill"])
    await asyncio.wait_for(done.wait(), 10)
    assert deliveries == [1, 2] and consumer.running
    await bus.close()


async def test_stopping_a_consumer_ends_it_even_when_a_cancel_is_swallowed(nats_url: str, unique_token: str) -> None:
    bus = await _bus(nats_url)

    consumer = await bus.consume(subjects.FILLS, _nothing, durable=f"t-{unique_token}")
    swallowed: list[bool] = []

    async def wait_that_swallows_a_cancel(timeout: float) -> list[Msg]:
        # What Python 3.11's asyncio.wait_for inside the pull window does when a message arrives
        # with the cancel (CPython gh-86296): the wait returns, the cancel is gone.
        try:
            await asyncio.sleep(timeout)
        except asyncio.CancelledError:
            swallowed.append(True)
        return []

    assert consumer._window is not None
    consumer._window.next_batch = wait_that_swallows_a_cancel  # type: ignore[method-assign]
    await asyncio.sleep(1.2)  # the loop's wait in the real window ends (1 s); it is in the patched one
    await asyncio.wait_for(consumer.stop(), 10)
    assert swallowed and not consumer.running
    await bus.close()


async def test_an_event_on_a_subject_it_may_not_come_from_is_dead_lettered_and_never_handled(
    nats_url: str, unique_token: str
) -> None:
    bus = await _bus(nats_url, service="exec_sim")
    proposal, quote = example_events()["trade_proposal"], example_events()["market_data"]
    got, handler = _queue_handler()

    dead: asyncio.Queue[Msg] = asyncio.Queue()
    await bus.nc.subscribe(subjects.DEAD_LETTERS, cb=dead.put)
    await bus.consume(subjects.MARKET_DATA, handler, durable=f"md-{unique_token}")
    forged_on = subjects.subject_for(quote)
    await bus.js.publish(forged_on, encode_event(proposal))  # a proposal on a market-data subject
    await bus.publish(quote)
    assert await asyncio.wait_for(got.get(), 5) == quote  # the quote after it is handled, the proposal never
    letter = decode_event((await asyncio.wait_for(dead.get(), 5)).data)
    assert isinstance(letter, RejectedInputEvent)
    assert letter.reason == subjects.REASON_WRONG_FAMILY and letter.causation_id == proposal.event_id
    assert letter.source == "exec_sim" and letter.route == f"nats:{forged_on}"
    misrouted = bus.metrics.counter("events_misrouted_total")
    assert misrouted.labels("trade_proposal", "at.md", subjects.REASON_WRONG_FAMILY)._value.get() == 1
    assert got.empty()
    await bus.close()


async def test_a_recovery_read_skips_and_dead_letters_a_forged_event(nats_url: str) -> None:
    bus = await _bus(nats_url, service="exec_sim")
    fill, decision = example_events()["fill"], example_events()["risk_decision"]
    await bus.publish(fill)
    await bus.js.publish(subjects.subject_for(fill), encode_event(decision))  # a decision on a fill subject
    read = [event async for event, _ in bus.read_stream("AT_EXECUTION")]
    assert read == [fill]
    assert (
        bus.metrics.counter("events_misrouted_total")
        .labels("risk_decision", "at.fill", subjects.REASON_WRONG_FAMILY)
        ._value.get()
        == 1
    )
    await bus.close()


async def test_consumer_health_is_red_when_the_durable_is_deleted(nats_url: str, unique_token: str) -> None:
    bus = await _bus(nats_url)
    durable = f"h-{unique_token}"
    await bus.consume(subjects.SIGNALS, _nothing, durable=durable)
    assert (await bus.consumer_health(durable)).healthy
    await bus.js.delete_consumer("AT_SIGNALS", durable)
    health = await bus.consumer_health(durable)
    assert not health.healthy and health.problem == "missing" and not health.exists
    await bus.close()


async def test_consumer_health_is_red_when_work_waits_and_nothing_is_acknowledged(
    nats_url: str, unique_token: str
) -> None:
    bus = await _bus(nats_url)
    durable = f"stall-{unique_token}"
    release = asyncio.Event()

    async def stuck(event: Event, _: Delivery) -> None:
        await release.wait()

    await bus.consume(subjects.SIGNALS, stuck, durable=durable)
    await bus.publish(example_events()["signal"])
    first = await bus.consumer_health(durable, stall_after_s=0.0)
    assert first.healthy or first.problem == "stalled"
    deadline = asyncio.get_running_loop().time() + 5
    while (health := await bus.consumer_health(durable, stall_after_s=0.0)).ack_pending == 0:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    assert health.stalled and health.problem == "stalled"
    release.set()
    await bus.close()


async def test_a_consumer_asks_for_its_messages_ahead_not_once_per_message(nats_url: str, unique_token: str) -> None:
    bus = await _bus(nats_url)
    durable = f"t-{unique_token}"
    requests: list[bytes] = []
    spy = await bus.nc.subscribe(f"$JS.API.CONSUMER.MSG.NEXT.AT_EXECUTION.{durable}", cb=_append_to(requests))
    got, handler = _queue_handler()

    await bus.consume(subjects.FILLS, handler, durable=durable, batch=64)
    fills = _fills(20)
    for fill in fills:  # one at a time, each handled before the next is published: a live rate
        await bus.publish(fill)
        assert await asyncio.wait_for(got.get(), 5) == fill
    await spy.unsubscribe()
    # One request opened the window (a renewal may follow if the run is slow); a fetch per message would be 20+.
    assert 1 <= len(requests) <= 3
    assert await _settled(bus, durable) == (0, 0)
    await bus.close()


async def test_a_consumer_asks_again_when_its_durable_is_deleted_and_made_again(
    nats_url: str, unique_token: str
) -> None:
    bus = await _bus(nats_url)
    durable = f"t-{unique_token}"
    got, handler = _queue_handler()

    consumer = await bus.consume(subjects.FILLS, handler, durable=durable)
    await asyncio.sleep(0.1)  # the window's request waits on the server
    info = await bus.js.consumer_info("AT_EXECUTION", durable)
    await bus.js.delete_consumer("AT_EXECUTION", durable)  # the server ends the waiting request (409)
    await bus.js.add_consumer("AT_EXECUTION", info.config)
    fill = _fills(1)[0]
    await bus.publish(fill)
    assert await asyncio.wait_for(got.get(), 10) == fill
    assert consumer.running
    await bus.close()


def _append_to(items: list[bytes]) -> Callable[[Msg], Awaitable[None]]:
    async def on_msg(msg: Msg) -> None:
        items.append(msg.data)

    return on_msg
