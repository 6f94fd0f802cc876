"""The service layer alone: accept_alert and the refusal budgets, driven with fakes (no HTTP, no NATS)."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal

import pytest

from at_core.catalog import InstrumentCatalog
from at_core.clock import ManualClock
from at_core.events import Event, EventFactory
from at_core.ids import IdGenerator
from at_core.metrics.gateway import CATALOG
from at_core.models.enums import IngestSource
from at_gateway.adapters.dedup import dedup_key, signal_msg_id
from at_gateway.domain.bounds import QuantityLimits
from at_gateway.domain.redaction import Redactor
from at_gateway.domain.routing import Route, RouteTable, Target
from at_gateway.errors import NotDurable, Reason, Rejection, Stored
from at_gateway.service import Accepted, AlertRequest, Duplicate, GatewayService, Limits

NOW = 1_795_000_000_000_000_000
SECRET = "unit-secret"
ALERT = b'{"ticker": "MES1!", "exchange": "CME_MINI", "action": "buy", "contracts": "2", "alert_id": "a-1"}'


class FakeDedup:
    """The dedup port in memory: ``claims`` is this process's memory, ``stream`` the sink's messages."""

    def __init__(self, stream: list[Event] | None = None) -> None:
        self.claims: dict[str, str] = {}
        self.stream = stream  # what JetStream holds, read by sequence
        self.released: list[str] = []
        self.timeouts: list[float] = []

    async def seen(self, key: str, timeout_s: float) -> str | None:
        self.timeouts.append(timeout_s)
        return self.claims.get(key)

    def reserve(self, key: str, event_id: str) -> None:
        self.claims[key] = event_id

    async def first_of(self, key: str, seq: int, timeout_s: float) -> str | None:
        self.claims.pop(key, None)  # this request's own reservation
        return self.stream[seq - 1].event_id if self.stream else None

    async def record(self, key: str, event_id: str) -> None:
        self.claims[key] = event_id

    def record_on_disk(self, key: str, event_id: str) -> str:
        self.claims[key] = event_id
        return event_id

    async def release(self, key: str, timeout_s: float = 0.2) -> None:
        self.released.append(key)
        self.claims.pop(key, None)


class FakeSink:
    """JetStream as far as the service sees it: a message id stored once, a repeat acknowledged ``duplicate``."""

    def __init__(self, fail: bool = False, fail_after: int | None = None) -> None:
        self.published: list[Event] = []
        self.msg_ids: list[str | None] = []
        self.dead_letters: list[Event] = []
        self.fail = fail
        self.fail_after = fail_after  # refuse every publish after this many stored

    async def publish(self, event: Event, budget_s: float | None = None, msg_id: str | None = None) -> Stored:
        if self.fail or (self.fail_after is not None and len(self.published) >= self.fail_after):
            raise NotDurable("disk full")
        if msg_id is not None and msg_id in self.msg_ids:
            return Stored("jetstream", duplicate_of=self.msg_ids.index(msg_id) + 1)
        self.published.append(event)
        self.msg_ids.append(msg_id)
        return Stored("jetstream")

    async def publish_best_effort(self, event: Event, budget_s: float | None = None) -> None:
        self.dead_letters.append(event)


def make_service(
    sink: FakeSink | None = None,
    routes: list[Route] | None = None,
    dedup: FakeDedup | None = None,
    seed: int = 7,
    **limits: int,
) -> tuple[GatewayService, FakeDedup, FakeSink]:
    clock = ManualClock(NOW)
    dedup, sink = dedup or FakeDedup(), sink or FakeSink()
    bounds = {"per_source": 100, "per_route": 100, "refusals_per_source": 100, "dead_letters": 100} | limits
    service = GatewayService(
        clock=clock,
        factory=EventFactory("gateway", clock, IdGenerator(clock, random.Random(seed))),
        catalog=InstrumentCatalog(),
        routes=RouteTable(routes or [], [SECRET], Target("paper-1", "default")),
        metrics=CATALOG.build(),
        dedup=dedup,
        sink=sink,
        key_of=dedup_key,
        msg_id_of=signal_msg_id,
        redactor=Redactor([SECRET]),
        limits=Limits(**bounds),
        quantity=QuantityLimits(),
        stale_after_s=300,
        monotonic=lambda: 0.0,
    )
    return service, dedup, sink


def request(raw: bytes = ALERT, token: str | None = SECRET) -> AlertRequest:
    return AlertRequest(raw, token, IngestSource.TRADINGVIEW, "/webhooks/tradingview/{token}", deadline=0.8)


async def test_an_accepted_alert_is_published_once_with_its_secret_redacted() -> None:
    service, _, sink = make_service()
    outcome = await service.accept_alert(request(ALERT.replace(b"}", b', "comment": "unit-secret"}')), "1.2.3.4")
    assert isinstance(outcome, Accepted) and outcome.sink == "jetstream"
    (signal,) = sink.published
    assert (signal.instrument_id, signal.quantity, signal.comment) == (
        "MESZ2026.CME",
        Decimal(2),
        "***",
    )  # MES1! on 2026-11-18: December
    assert SECRET not in signal.raw_body


async def test_a_repeated_alert_returns_the_first_event_id_and_publishes_nothing_more() -> None:
    service, _, sink = make_service()
    first = await service.accept_alert(request(), "1.2.3.4")
    second = await service.accept_alert(request(), "1.2.3.4")
    assert isinstance(first, Accepted)
    assert second == Duplicate(first.signals[0].event_id) and len(sink.published) == 1


async def test_a_repeat_only_jetstream_knows_is_answered_with_the_first_event_id_and_not_stored() -> None:
    sink = FakeSink()
    one, _, _ = make_service(sink=sink, dedup=FakeDedup(sink.published))
    other, _, _ = make_service(sink=sink, dedup=FakeDedup(sink.published), seed=8)  # another replica, empty memory
    first = await one.accept_alert(request(), "1.2.3.4")
    repeat = await other.accept_alert(request(), "1.2.3.4")
    assert isinstance(first, Accepted)
    assert repeat == Duplicate(first.signals[0].event_id) and len(sink.published) == 1


async def test_each_signal_of_a_fanned_out_alert_has_its_own_message_id_derived_from_the_alert() -> None:
    route = Route("fan", (Target("a", "s"), Target("b", "s")))
    service, _, sink = make_service(routes=[route])
    outcome = await service.accept_alert(request(token="fan"), "1.2.3.4")
    key = dedup_key("tradingview:a/s", "a-1", ALERT)
    assert isinstance(outcome, Accepted) and len(outcome.signals) == 2
    assert sink.msg_ids == [signal_msg_id(key, "a", "s"), signal_msg_id(key, "b", "s")]
    assert len(set(sink.msg_ids)) == 2


async def test_a_repeat_of_a_fanned_out_alert_that_failed_half_way_stores_only_the_missing_signal() -> None:
    route = Route("fan", (Target("a", "s"), Target("b", "s")))
    sink = FakeSink(fail_after=1)  # the first signal stored, the second refused: the alert is refused
    service, dedup, _ = make_service(sink=sink, routes=[route])
    with pytest.raises(Rejection) as refused:
        await service.accept_alert(request(token="fan"), "1.2.3.4")
    sink.fail_after = None
    retry = await service.accept_alert(request(token="fan"), "1.2.3.4")
    again = await service.accept_alert(request(token="fan"), "1.2.3.4")
    assert refused.value.reason == Reason.NOT_DURABLE and dedup.released
    assert isinstance(retry, Accepted) and [s.account_id for s in retry.signals] == ["b"]
    assert [s.account_id for s in sink.published] == ["a", "b"]  # neither twice
    assert again == Duplicate(retry.signals[0].event_id)


class GatedSink(FakeSink):
    """A sink whose first publish waits for ``gate``, then stores or (``fail_first``) is refused."""

    def __init__(self, fail_first: bool = False) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()
        self.fail_first = fail_first
        self.calls = 0

    async def publish(self, event: Event, budget_s: float | None = None, msg_id: str | None = None) -> Stored:
        self.calls += 1
        if self.calls == 1:
            self.entered.set()
            await self.gate.wait()
            if self.fail_first:
                raise NotDurable("JetStream and the outbox both refused")
        return await super().publish(event, budget_s, msg_id)


async def test_a_repeat_arriving_while_the_first_attempt_stores_is_answered_duplicate_once_it_is_durable() -> None:
    sink = GatedSink()
    service, _, _ = make_service(sink=sink)
    first = asyncio.create_task(service.accept_alert(request(), "1.2.3.4"))
    await sink.entered.wait()
    repeat = asyncio.create_task(service.accept_alert(request(), "1.2.3.4"))
    await asyncio.sleep(0.01)
    assert not repeat.done()  # not "duplicate" of something not yet stored
    sink.gate.set()
    accepted = await first
    assert isinstance(accepted, Accepted)
    assert await repeat == Duplicate(accepted.signals[0].event_id)
    assert len(sink.published) == 1 and sink.calls == 1


async def test_a_repeat_that_arrived_while_the_first_attempt_failed_stores_the_alert_itself() -> None:
    sink = GatedSink(fail_first=True)
    service, _, _ = make_service(sink=sink)
    first = asyncio.create_task(service.accept_alert(request(), "1.2.3.4"))
    await sink.entered.wait()
    repeat = asyncio.create_task(service.accept_alert(request(), "1.2.3.4"))
    await asyncio.sleep(0.01)
    sink.gate.set()
    with pytest.raises(Rejection) as refused:
        await first
    assert refused.value.reason == Reason.NOT_DURABLE
    stored = await repeat
    assert isinstance(stored, Accepted) and len(sink.published) == 1  # the alert is kept, once


async def test_the_dedup_check_gets_the_answer_budget_minus_a_reserve_for_the_outbox() -> None:
    service, dedup, _ = make_service()
    await service.accept_alert(request(), "1.2.3.4")
    assert dedup.timeouts == [pytest.approx(0.6)]


async def test_an_alert_that_cannot_be_stored_releases_its_claim_so_a_retry_is_not_a_duplicate() -> None:
    service, dedup, _ = make_service(sink=FakeSink(fail=True))
    with pytest.raises(Rejection) as refused:
        await service.accept_alert(request(), "1.2.3.4")
    assert refused.value.reason == Reason.NOT_DURABLE
    assert dedup.released and not dedup.claims


async def test_the_route_limit_counts_only_authenticated_alerts() -> None:
    service, _, _ = make_service(per_route=1)
    for _ in range(3):
        with pytest.raises(Rejection, match="bad_secret"):
            await service.accept_alert(request(token="wrong"), "6.6.6.6")
    assert isinstance(await service.accept_alert(request(), "1.2.3.4"), Accepted)


async def test_a_source_past_its_refusal_budget_is_answered_rate_limited_and_not_kept() -> None:
    service, _, sink = make_service(refusals_per_source=2)
    reasons = []
    for _ in range(4):
        try:
            await service.accept_alert(request(token="wrong"), "6.6.6.6")
        except Rejection as exc:
            reasons.append(exc.reason)
            await service.keep_refusal(exc, 401, "/webhooks/tradingview/{token}", "6.6.6.6", b"", 0.8)
    assert reasons == [Reason.BAD_SECRET, Reason.BAD_SECRET, Reason.RATE_LIMITED, Reason.RATE_LIMITED]
    assert len(sink.dead_letters) == 2
    suppressed = service.metrics.registry.get_sample_value(
        "at_gateway_dead_letters_suppressed_total", {"reason": "rate_limited"}
    )
    assert suppressed == 2  # the two not kept are counted, by reason


async def test_a_refusal_detail_that_echoes_a_secret_is_kept_redacted() -> None:
    service, _, sink = make_service()
    await service.keep_refusal(Rejection(Reason.INVALID, f"bad {SECRET}"), 422, "/x", "1.2.3.4", b"unit-secret", 0.8)
    (dead,) = sink.dead_letters
    assert SECRET not in dead.detail and SECRET not in dead.raw_body


async def test_a_fanned_out_quantity_above_the_maximum_is_refused_not_capped() -> None:
    route = Route("fan", (Target("a", "s", Decimal(1)), Target("b", "s", Decimal(60))))
    service, _, sink = make_service(routes=[route])
    with pytest.raises(Rejection) as refused:
        await service.accept_alert(request(token="fan"), "1.2.3.4")
    assert refused.value.errors == [{"loc": ["quantity"], "msg": "above the maximum of 100 for MESZ2026.CME"}]
    assert not sink.published


async def test_the_allowlist_refuses_other_sources_before_anything_else() -> None:
    service, _, _ = make_service()
    service.limits = Limits(100, 100, 100, 100, allowlist=frozenset({"52.89.214.238"}))
    service.admit("52.89.214.238", "/webhooks/tradingview", allowlist=True)
    with pytest.raises(Rejection, match="address_not_allowed"):
        service.admit("203.0.113.9", "/webhooks/tradingview", allowlist=True)
