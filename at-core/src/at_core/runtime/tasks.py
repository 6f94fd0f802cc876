"""Stopping a background task, bounded: what every service's shutdown does with its timers.

A single ``task.cancel()`` can be lost: nats-py waits for JetStream answers in
``asyncio.wait_for``, which in Python 3.11 drops a cancel that arrives as the answer does
(CPython gh-86296); a timer loop around such a call then runs on and ``await task`` never
returns, so a shutdown (Ctrl-C, a deploy) hangs. :func:`stop_task` cancels again until the task
ends, and gives up, logged, after a bound.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from at_core.runtime.logging import get_logger

log = get_logger("at_core.tasks")

#: Cancels sent, this many seconds apart at most, before the shutdown goes on without the task.
STOP_ATTEMPTS = 5
STOP_STEP_S = 2.0


async def stop_task(task: asyncio.Task[Any] | None, attempts: int = STOP_ATTEMPTS, step_s: float = STOP_STEP_S) -> bool:
    """Cancel ``task`` until it has ended (bounded); True if it ended, False if it was left running."""
    if task is None:
        return True
    for _ in range(attempts):
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=step_s)
        if done:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                task.result()
            return True
    log.error("task_did_not_stop", task=task.get_name())
    return False
