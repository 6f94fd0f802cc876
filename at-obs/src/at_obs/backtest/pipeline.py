"""A backtest through the live code: inputs into agents and exec-sim in replay mode, outputs back.

Reuses ``at-replay``'s driver unchanged: each input is published (JetStream-acked), then the
driver waits until every durable consumer of the stack has handled everything before the
next one, so each bar and signal meets exactly the state the earlier ones built, whatever
the machine's speed. No quiet period is needed (``settle_s=0``): quiescence is the barrier.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from at_core.events import Event
from at_obs.adapters.replay_driver import ReplayDriver
from at_obs.backtest.stack import StackSettings, backtest_stack
from at_obs.domain.replay import output_hash


@dataclass
class StackRun:
    """What one run produced: the outputs in arrival order, their canonical hash, warnings."""

    outputs: list[Event]
    output_sha256: str
    warnings: list[str] = field(default_factory=list)


async def run_through_stack(
    inputs: list[Event],
    settings: StackSettings,
    *,
    timeout_s: float = 30.0,
    run_dir: Path | None = None,
    progress: Callable[[], Any] | None = None,
) -> StackRun:
    """Start the stack, replay ``inputs`` through it, stop it.

    Raises:
        StackError: the stack could not start.
        ObsError: the driver could not reach it.
    """
    async with backtest_stack(settings, run_dir) as url:
        driver = ReplayDriver(url, quiesce=True)
        outputs = await driver.run(inputs, Counter(), settle_s=0.0, timeout_s=timeout_s, progress=progress)
    warnings = [
        f"still busy {timeout_s:g} s after input {root}: {', '.join(b)}" for root, b in driver.still_busy.items()
    ]
    if driver.quiesce_error:
        warnings.append(f"no consumer state ({driver.quiesce_error}): outputs may be incomplete")
    return StackRun(list(outputs), output_hash(outputs), warnings)
