"""Wires the gateway: settings, clock, ids, catalog, routes, metrics, bus, outbox, dedup."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from at_core.catalog import InstrumentCatalog
from at_core.clock import Clock, WallClock
from at_core.events import EventFactory
from at_core.ids import IdGenerator
from at_core.metrics import Metrics
from at_core.metrics.gateway import CATALOG
from at_core.runtime.bus import BusError, EventBus
from at_core.runtime.logging import get_logger
from at_gateway.adapters.dedup import Deduplicator
from at_gateway.adapters.outbox import Outbox
from at_gateway.adapters.publisher import DurablePublisher
from at_gateway.config import GatewaySettings
from at_gateway.domain.limits import RateLimiter, SlidingWindow
from at_gateway.domain.routing import RouteTable, Target

log = get_logger("at_gateway.bootstrap")


@dataclass
class Gateway:
    """Everything a request handler needs, built once per app."""

    settings: GatewaySettings
    clock: Clock
    factory: EventFactory
    catalog: InstrumentCatalog
    routes: RouteTable
    metrics: Metrics
    outbox: Outbox
    publisher: DurablePublisher
    dedup: Deduplicator
    limiter: RateLimiter
    route_limiter: RateLimiter
    recent_alerts: SlidingWindow = field(default_factory=lambda: SlidingWindow(180.0))
    bus: EventBus | None = None
    streams_ok: bool = False


def load_routes(settings: GatewaySettings) -> RouteTable:
    default = Target(settings.default_account_id, settings.default_strategy_id)
    data: dict = {}
    if settings.routes_file:
        text = Path(settings.routes_file).read_text()
        data = json.loads(text) if settings.routes_file.endswith(".json") else (yaml.safe_load(text) or {})
    return RouteTable.from_config(data, settings.secrets, default)


def _rng(settings: GatewaySettings) -> random.Random:
    """Seeded in replay mode (same inputs, same ids). Live, from OS entropy: two replicas (or a
    restart) sharing a seed could mint the same id in the same millisecond, and JetStream would
    then drop the second event as a duplicate of the first."""
    return random.Random(settings.seed) if settings.replay_mode else random.Random()


def build(settings: GatewaySettings, clock: Clock | None = None) -> Gateway:
    clock = clock or WallClock()
    metrics = CATALOG.build()
    outbox = Outbox(settings.outbox_path)
    metrics.gauge("outbox_depth").set(outbox.depth())
    return Gateway(
        settings=settings,
        clock=clock,
        factory=EventFactory("gateway", clock, IdGenerator(clock, _rng(settings))),
        catalog=InstrumentCatalog(),
        routes=load_routes(settings),
        metrics=metrics,
        outbox=outbox,
        publisher=DurablePublisher(None, outbox, metrics, settings.publish_timeout_s),
        dedup=Deduplicator(settings.dedup_window_s),
        limiter=RateLimiter(settings.rate_limit_per_minute),
        route_limiter=RateLimiter(settings.route_rate_limit_per_minute),
    )


async def connect(gw: Gateway) -> None:
    """Connect to NATS, create streams and the dedup bucket; retry until it works.

    Runs in the background: until NATS answers, accepted events go to the outbox.
    """
    gw.publisher.start()
    while gw.bus is None:
        try:
            bus = await EventBus.from_settings(gw.settings, service="gateway", metrics=gw.metrics)
            await bus.ensure_streams(replicas=gw.settings.nats_stream_replicas)
            await gw.dedup.attach(bus)
        except (BusError, Exception) as exc:  # keep serving from the outbox; try again
            log.error("nats_unavailable", error=str(exc))
            await asyncio.sleep(1.0)
            continue
        gw.bus = bus
        gw.publisher.bus = bus
        gw.streams_ok = True
        log.info("nats_ready")


async def close(gw: Gateway) -> None:
    await gw.publisher.stop()
    if gw.bus is not None:
        await gw.bus.close()
    gw.outbox.close()
