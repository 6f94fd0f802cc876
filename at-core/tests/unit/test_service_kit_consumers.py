"""A durable with a backlog that does not move is stalled; one that moves, or has none, is not."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from nats.js.errors import NotFoundError

from at_core.service_kit import ConsumerWatch


class FakeJs:
    """Answers consumer_info like JetStream would (the real path is in the integration tests)."""

    def __init__(self) -> None:
        self.info: Any = None

    async def consumer_info(self, stream: str, durable: str) -> Any:
        if self.info is None:
            raise NotFoundError
        return self.info


class FakeConsumer:
    def __init__(self, js: FakeJs) -> None:
        self._sub = SimpleNamespace(_stream="AT_X", _consumer="d1", _js=js)
        self.running = True


def _info(pending: int, ack_pending: int, delivered: int, acked: int) -> Any:
    return SimpleNamespace(
        num_pending=pending,
        num_ack_pending=ack_pending,
        delivered=SimpleNamespace(consumer_seq=delivered),
        ack_floor=SimpleNamespace(consumer_seq=acked),
    )


def test_a_backlog_without_progress_for_the_stall_time_is_stalled() -> None:
    now = [0.0]
    js = FakeJs()
    watch = ConsumerWatch(60.0, monotonic=lambda: now[0])
    consumer: Any = FakeConsumer(js)

    def state() -> str:
        return asyncio.run(watch.check_one(consumer)).state

    js.info = _info(5, 1, 10, 9)
    assert state() == "ok"
    now[0] = 59.0
    assert state() == "ok"
    now[0] = 61.0
    assert state() == "stalled"
    js.info = _info(4, 1, 11, 10)  # it moved
    assert state() == "ok"
    now[0] = 500.0
    js.info = _info(0, 0, 11, 11)  # idle with nothing to do is healthy
    assert state() == "ok"
    now[0] = 1000.0
    assert state() == "ok"


def test_a_missing_durable_and_an_ended_loop_are_red() -> None:
    js = FakeJs()
    consumer: Any = FakeConsumer(js)
    watch = ConsumerWatch()
    assert asyncio.run(watch.check_one(consumer)).state == "missing"
    consumer.running = False
    assert asyncio.run(watch.check_one(consumer)).state == "stopped"
