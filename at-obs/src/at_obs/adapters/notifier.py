"""Trade notifications through apprise: its own durable consumer, retries, a rate limit and digests.

The notifier reads ``AT_EXECUTION`` with a durable of its own, so a channel that is down
(Telegram unreachable, a Slack webhook answering 500) only holds back the notifier: the
trading services and the recorder never wait for it. A failed send raises, the bus naks,
and JetStream delivers the event again after ``nak_delay_s``, without limit. A send that
succeeded is remembered per route, so a redelivery never sends it twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import apprise
from nats.js.api import DeliverPolicy

from at_core import subjects
from at_core.constants import SERVICE_OBS
from at_core.events import Event
from at_core.metrics import Metrics
from at_core.runtime.bus import Consumer, Delivery, EventBus
from at_core.runtime.logging import get_logger
from at_core.runtime.tasks import stop_task
from at_obs.console_settings import ConsoleSettings, NotifyRoute
from at_obs.domain.notify import Notice, Throttle, digest_text, notice_for

log = get_logger("at_obs.notifier")
_spec = subjects.stream_for_subject(subjects.FILLS)
assert _spec is not None  # at-core's stream table captures fills
STREAM = _spec.name  # the execution stream: fills, decisions, trading states
SENT_KEPT = 100_000


class NotifyError(Exception):
    """A channel did not take a notification (it is retried)."""


def send_apprise(urls: list[str], title: str, body: str) -> bool:
    """Send through apprise (blocking: call it in a thread); True when every URL took it."""
    app = apprise.Apprise()
    for url in urls:
        app.add(url)
    return bool(app.notify(title=title, body=body))


def _matches(route: NotifyRoute, notice: Notice) -> bool:
    return notice.kind in route.kinds and ("*" in route.accounts or notice.account_id in route.accounts)


@dataclass
class Notifier:
    """Routes, one throttle per route, what was sent, and the running consumer."""

    settings: ConsoleSettings
    send: Callable[[list[str], str, str], bool] = send_apprise
    clock: Callable[[], float] = time.monotonic
    throttles: list[Throttle] = field(default_factory=list)
    sent: set[tuple[int, str]] = field(default_factory=set)
    #: The recorder's metrics (the ``notification*`` family); None in a test that counts nothing.
    metrics: Metrics | None = None
    bus: EventBus | None = None
    consumer: Consumer | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        s = self.settings
        self.throttles = [Throttle(s.notify_max_per_minute, s.notify_digest_interval_s) for _ in s.notify_routes]

    def _count(self, name: str, *labels: str) -> None:
        if self.metrics is not None:
            counter = self.metrics.counter(name)
            (counter.labels(*labels) if labels else counter).inc()

    async def _send(self, route: NotifyRoute, title: str, body: str) -> None:
        urls = [u.get_secret_value() for u in route.urls]
        try:
            ok = await asyncio.wait_for(
                asyncio.to_thread(self.send, urls, title, body), self.settings.notify_send_timeout_s
            )
        except TimeoutError:
            ok = False
        if not ok:
            raise NotifyError(f"a channel did not take {title!r}")

    async def handle(self, event: Event, delivery: Delivery) -> None:
        """Consumer handler: notify every matching route once; raise (retry) when a send fails."""
        notice = notice_for(event.model_dump(mode="json"))
        if notice is None:
            return
        failed = 0
        for i, route in enumerate(self.settings.notify_routes):
            key = (i, notice.event_id)
            if key in self.sent or not _matches(route, notice):
                continue
            if not self.throttles[i].offer(notice, self.clock()):
                self._remember(key)  # held for the digest, which retries on its own
                self._count("notifications_held_total", str(i))
                continue
            try:
                await self._send(route, notice.title, notice.body)
            except NotifyError as exc:
                failed += 1
                self._count("notification_failures_total", str(i))
                if self.throttles[i].sent_at:
                    self.throttles[i].sent_at.pop()  # a send that failed does not count against the limit
                log.warning(
                    "notify_failed", kind=notice.kind, route=i, error=str(exc), delivered=delivery.num_delivered
                )
                continue
            self._remember(key)
            self._count("notifications_sent_total", str(i), notice.kind)
            log.info("notified", kind=notice.kind, account_id=notice.account_id, route=i, event_id=notice.event_id)
        if failed:
            raise NotifyError(f"{failed} route(s) failed for {notice.event_id}; JetStream redelivers it")

    def _remember(self, key: tuple[int, str]) -> None:
        if len(self.sent) >= SENT_KEPT:
            self.sent.clear()  # JetStream redelivers only recent events: an old id will not come back
        self.sent.add(key)

    async def flush_digests(self) -> None:
        """Send every digest that is due; a failed one is held again for the next flush."""
        for i, route in enumerate(self.settings.notify_routes):
            held = self.throttles[i].flush(self.clock())
            if not held:
                continue
            title, body = digest_text(held)
            try:
                await self._send(route, title, body)
                self._count("notification_digests_total", str(i))
                log.info("notified_digest", route=i, count=len(held))
            except NotifyError as exc:
                self._count("notification_failures_total", str(i))
                log.warning("notify_digest_failed", route=i, count=len(held), error=str(exc))
                throttle = self.throttles[i]
                throttle.held = held + throttle.held
                throttle.last_digest_s = self.clock()


async def start(notifier: Notifier, metrics: Metrics) -> None:
    """Connect, start the durable consumer (new events only, on first start) and the digest timer."""
    s = notifier.settings
    notifier.metrics = metrics
    notifier.bus = await EventBus.from_settings(s, service=SERVICE_OBS, metrics=metrics)
    await notifier.bus.ensure_streams(replicas=s.nats_stream_replicas)
    notifier.consumer = await notifier.bus.consume(
        subjects.ALL,
        notifier.handle,
        durable=f"{s.notify_durable}-{STREAM}",
        stream=STREAM,
        max_deliver=-1,  # a channel down for an hour delays notifications, never drops them
        nak_delay_s=s.notify_retry_delay_s,
        deliver_policy=DeliverPolicy.NEW,
    )
    notifier.tasks.append(asyncio.create_task(_digests(notifier), name="notify-digests"))
    metrics.gauge("notifier_running").set(1)
    log.info("notifier_started", routes=len(s.notify_routes), durable=f"{s.notify_durable}-{STREAM}")


async def _digests(notifier: Notifier) -> None:
    while True:
        await asyncio.sleep(min(5.0, notifier.settings.notify_digest_interval_s))
        try:
            await notifier.flush_digests()
        except Exception as exc:  # the timer must outlive any one failure
            log.warning("notify_digest_loop_failed", error=repr(exc))


async def stop(notifier: Notifier) -> None:
    if notifier.metrics is not None:
        notifier.metrics.gauge("notifier_running").set(0)
    for task in notifier.tasks:
        await stop_task(task)
    if notifier.bus is not None:
        await notifier.bus.close()
