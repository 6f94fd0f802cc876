"""The agents' inputs wired to their handlers (``service.py``): subjects and durable names.

The durable names come from ``AT_AGENTS_DURABLE_PREFIX``, so replicas share the work.
"""

from __future__ import annotations

from at_agents.bootstrap import start as start_service
from at_agents.service import AgentsService
from at_core import subjects
from at_core.events import Event
from at_core.runtime.bus import Delivery

#: Subject filter -> durable name suffix. Context first (market data, positions, accounts,
#: charts), signals last: a restart catches up on context before it decides again.
DURABLES: tuple[tuple[str, str], ...] = (
    (subjects.MARKET_DATA, "md"),
    (subjects.POSITIONS, "positions"),
    (subjects.ACCOUNTS, "accounts"),
    (subjects.CHART_SNAPSHOTS, "charts"),
    (subjects.SIGNALS, "signals"),
)


async def start(svc: AgentsService) -> None:
    """Connect and reload memory (``bootstrap.start``), then consume every input."""
    await start_service(svc)
    assert svc.bus is not None

    async def on_input(event: Event, _: Delivery) -> None:
        await svc.handle(event)

    for subject, name in DURABLES:
        svc.consumers.append(
            await svc.bus.consume(
                subject, on_input, durable=f"{svc.settings.durable_prefix}-{name}", ack_wait_s=svc.settings.ack_wait_s
            )
        )
    svc.ready = True
