"""A background task is stopped, bounded, even when a cancel is lost."""

from __future__ import annotations

import asyncio

from at_core.runtime.tasks import stop_task


async def test_a_timer_task_that_loses_a_cancel_still_stops() -> None:
    """As nats-py's wait_for can in Python 3.11: the first cancel is swallowed, the loop goes on."""
    turns = 0

    async def poller() -> None:
        nonlocal turns
        while True:
            turns += 1
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if turns == 1:
                    continue  # the lost cancel
                raise

    task = asyncio.create_task(poller())
    await asyncio.sleep(0)
    assert await asyncio.wait_for(stop_task(task), 30)
    assert task.cancelled() and turns == 2


async def test_a_task_that_never_stops_is_left_after_the_bound_and_says_so() -> None:
    released = asyncio.Event()

    async def stubborn() -> None:
        while not released.is_set():
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    assert await stop_task(task, attempts=2, step_s=0.01) is False
    assert not task.done()
    released.set()  # the test's own cleanup
    task.cancel()
    await task
