"""Notifications through apprise to a loopback webhook (apprise's json:// form stands in for Telegram/Slack).

A real nats-server, the paper stack answering the session's inputs, the notifier with its
own durable consumer, and a real HTTP receiver.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from tests.paper_stack import recorded_session, serve, session_inputs

from at_core.constants import SERVICE_EXEC_SIM
from at_core.events import BrokerMismatchEvent, Event, FillEvent
from at_core.ids import derive_id
from at_core.metrics import MetricCatalog
from at_core.metrics.obs import CATALOG
from at_core.runtime.bus import EventBus
from at_core.testing import NatsServer, example_events, free_port
from at_obs.adapters.notifier import STREAM, Notifier, start, stop
from at_obs.console_settings import ConsoleSettings

pytestmark = pytest.mark.integration


class Receiver:
    """A webhook on loopback that records what apprise posts, and can refuse the first ones."""

    def __init__(self, refuse_first: int = 0) -> None:
        self.port = free_port()
        self.posts: list[dict[str, Any]] = []
        self.refused = 0
        self.refuse_first = refuse_first
        self.arrived = asyncio.Event()
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            if self.refused < self.refuse_first:
                self.refused += 1
                return Response(status_code=503)
            self.posts.append(await request.json())
            self.arrived.set()
            return Response(status_code=200)

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    async def wait_posts(self, n: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.posts) < n:
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), max(0.01, deadline - time.monotonic()))


@asynccontextmanager
async def running(receiver: Receiver, settings: ConsoleSettings, *more: Receiver) -> AsyncIterator[Notifier]:
    receivers = (receiver, *more)
    tasks = [asyncio.create_task(r.server.serve()) for r in receivers]
    while not all(r.server.started for r in receivers):  # noqa: ASYNC110 - uvicorn has no started event to await
        await asyncio.sleep(0.01)
    notifier = Notifier(settings)
    await start(notifier, CATALOG.build())  # the recorder's metrics, as the console passes them
    paper = await serve(settings.nats_url)
    try:
        yield notifier
    finally:
        await paper.close()
        await stop(notifier)
        for r in receivers:
            r.server.should_exit = True
        await asyncio.gather(*tasks)


async def publish(url: str, *events: Event) -> None:
    """Publish as exec-sim does (JetStream, ``Nats-Msg-Id`` the event id)."""
    bus = await EventBus.connect(url, service=SERVICE_EXEC_SIM, metrics=MetricCatalog("test").build())
    for event in events:
        await bus.publish(event)
    await bus.close()


def broker_mismatch() -> BrokerMismatchEvent:
    """at-core's example: topstepx holds MESZ2026.CME 1 where exec-sim holds 2, and the account was halted."""
    event = example_events()["broker_mismatch"]
    assert isinstance(event, BrokerMismatchEvent) and event.status == "mismatch" and event.halted
    return event


async def play_session(url: str) -> None:
    bus = await EventBus.connect(url, service="test", metrics=MetricCatalog("test").build())
    for event in session_inputs():
        await bus.publish(event)
    await bus.close()


async def settled(url: str, durable: str, timeout: float = 20.0) -> None:
    """The notifier's durable has taken and acknowledged every message on its stream."""
    bus = await EventBus.connect(url, service="test", metrics=MetricCatalog("test").build())
    deadline = time.monotonic() + timeout
    try:
        while True:
            info = await bus.js.consumer_info(STREAM, durable)
            stream = await bus.js.stream_info(STREAM)
            if (
                info.num_pending == 0
                and info.num_ack_pending == 0
                and info.delivered.stream_seq == stream.state.last_seq
            ):
                return
            assert time.monotonic() < deadline, f"notifier not settled: {info}"
            await asyncio.sleep(0.05)
    finally:
        await bus.close()


def sample(notifier: Notifier, name: str, **labels: str) -> float:
    assert notifier.metrics is not None
    return notifier.metrics.registry.get_sample_value(f"at_obs_{name}", labels) or 0.0


def route(receiver: Receiver, kinds: list[str]) -> list[dict[str, Any]]:
    return [{"urls": [receiver.url], "kinds": kinds}]


async def test_a_daily_loss_breach_produces_exactly_one_notification(nats_server: NatsServer) -> None:
    receiver = Receiver()
    settings = ConsoleSettings(nats_url=nats_server.url, notify_routes=route(receiver, ["halt", "kill_switch"]))
    async with running(receiver, settings) as notifier:
        assert sample(notifier, "notifier_running") == 1
        await play_session(nats_server.url)
        await receiver.wait_posts(1)
        await settled(nats_server.url, f"notifier-{STREAM}")
    assert sample(notifier, "notifier_running") == 0
    assert sample(notifier, "notifications_sent_total", route="0", kind="halt") == 1
    assert sample(notifier, "notification_failures_total", route="0") == 0
    assert len(receiver.posts) == 1
    assert "halted" in receiver.posts[0]["title"] and "daily_loss_limit" in receiver.posts[0]["title"]


async def test_a_receiver_that_is_down_gets_the_notification_once_it_is_back(nats_server: NatsServer) -> None:
    receiver = Receiver(refuse_first=3)
    settings = ConsoleSettings(
        nats_url=nats_server.url, notify_routes=route(receiver, ["halt"]), notify_retry_delay_s=0.2
    )
    async with running(receiver, settings) as notifier:
        await play_session(nats_server.url)
        await receiver.wait_posts(1)
        await settled(nats_server.url, f"notifier-{STREAM}")
    assert receiver.refused == 3 == sample(notifier, "notification_failures_total", route="0")
    assert sample(notifier, "notifications_sent_total", route="0", kind="halt") == 1
    assert len(receiver.posts) == 1, "delivered once, after three refusals"


async def test_past_the_rate_limit_notifications_arrive_as_one_digest(nats_server: NatsServer) -> None:
    receiver = Receiver()
    settings = ConsoleSettings(
        nats_url=nats_server.url,
        notify_routes=route(receiver, ["fill"]),
        notify_max_per_minute=1,
        notify_digest_interval_s=0.5,
    )
    async with running(receiver, settings) as notifier:
        await play_session(nats_server.url)
        await receiver.wait_posts(2)
        await settled(nats_server.url, f"notifier-{STREAM}")
        # the digest is counted once apprise's send returns, a moment after the receiver has it
        deadline = time.monotonic() + 20
        while sample(notifier, "notification_digests_total", route="0") < 1:
            assert time.monotonic() < deadline, "the digest was never counted"
            await asyncio.sleep(0.02)  # a counter has no message to await
    filled = sum(isinstance(e, FillEvent) for e in recorded_session())
    assert filled >= 3
    assert receiver.posts[0]["title"].startswith("Fill ")
    assert receiver.posts[1]["title"] == f"{filled - 1} notifications: {filled - 1} fill"
    assert len(receiver.posts) == 2
    assert sample(notifier, "notifications_sent_total", route="0", kind="fill") == 1
    assert sample(notifier, "notifications_held_total", route="0") == filled - 1
    assert sample(notifier, "notification_digests_total", route="0") == 1


async def test_a_broker_mismatch_produces_exactly_one_notification_through_a_redelivery(
    nats_server: NatsServer,
) -> None:
    """Route 1 refuses twice, so JetStream redelivers the event twice: route 0, which took it the
    first time, is not sent it again; exec-sim publishing the same event again adds nothing."""
    sent, flaky = Receiver(), Receiver(refuse_first=2)
    settings = ConsoleSettings(
        nats_url=nats_server.url,
        notify_routes=[
            {"urls": [sent.url], "kinds": ["broker_mismatch"]},
            {"urls": [flaky.url], "kinds": ["broker_mismatch"], "accounts": [broker_mismatch().account_id]},
        ],
        notify_retry_delay_s=0.2,
    )
    event = broker_mismatch()
    async with running(sent, settings, flaky) as notifier:
        await publish(nats_server.url, event)
        await flaky.wait_posts(1)
        await publish(nats_server.url, event)  # the same event id again (a publish retried after a lost ack)
        await settled(nats_server.url, f"notifier-{STREAM}")
    assert flaky.refused == 2 == sample(notifier, "notification_failures_total", route="1")
    assert len(sent.posts) == 1 and len(flaky.posts) == 1
    assert sample(notifier, "notifications_sent_total", route="0", kind="broker_mismatch") == 1
    post = sent.posts[0]
    assert post["title"] == f"Broker mismatch {event.account_id} at topstepx: 1 difference, account HALTED"
    assert "position MESZ2026.CME: ours 2, theirs 1" in post["message"]


async def test_a_broker_agreeing_again_goes_only_to_routes_that_ask_for_it(nats_server: NatsServer) -> None:
    both, mismatches_only = Receiver(), Receiver()
    settings = ConsoleSettings(
        nats_url=nats_server.url,
        notify_routes=[
            {"urls": [both.url], "kinds": ["broker_mismatch", "broker_restored"]},
            {"urls": [mismatches_only.url], "kinds": ["broker_mismatch"]},
        ],
    )
    mismatch = broker_mismatch()
    restored = mismatch.model_copy(
        update={
            "event_id": derive_id(mismatch.event_id, "restored"),
            "status": "restored",
            "differences": [],
            "halted": False,
            "message": "",
        }
    )
    async with running(both, settings, mismatches_only) as notifier:
        await publish(nats_server.url, mismatch, restored)
        await both.wait_posts(2)
        await settled(nats_server.url, f"notifier-{STREAM}")
    assert [p["title"].split(" ")[:3] for p in both.posts] == [
        ["Broker", "mismatch", mismatch.account_id],
        ["Broker", "agrees", "again"],
    ]
    assert len(mismatches_only.posts) == 1
    assert sample(notifier, "notifications_sent_total", route="0", kind="broker_restored") == 1
