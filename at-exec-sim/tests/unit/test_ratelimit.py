"""The client-side request budget, with a clock the test moves and a sleep that only records."""

from __future__ import annotations

import pytest

from at_exec_sim.adapters.ratelimit import RequestBudget


class Time:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_requests_within_the_budget_leave_at_once_and_the_next_waits_for_the_window() -> None:
    t = Time()
    budget = RequestBudget(3, 60.0, monotonic=t.monotonic, sleep=t.sleep)
    for _ in range(3):
        await budget.acquire()
    assert t.slept == []
    t.now += 10
    await budget.acquire()  # the 4th in the window: waits until the first is 60 s old
    assert t.slept == [50.0] and budget.waited_s == 50.0


async def test_a_pause_the_broker_imposes_holds_every_request_until_it_ends() -> None:
    t = Time()
    budget = RequestBudget(100, 60.0, monotonic=t.monotonic, sleep=t.sleep)
    budget.pause(7.5)
    assert budget.paused_for == 7.5
    await budget.acquire()
    assert t.slept == [7.5] and budget.paused_for == 0


def test_a_budget_needs_a_positive_limit_and_window() -> None:
    with pytest.raises(ValueError):
        RequestBudget(0, 60.0)
