"""Wires the gateway: settings, clock, ids, catalog, routes, metrics, bus, outbox, dedup.

``build`` is pure wiring (no connection); ``start`` connects in the background (until NATS
answers, accepted events go to the outbox); ``stop`` closes the publisher, the bus and the
outbox. The handlers are ``service.py``'s; the gateway consumes nothing (no ``consumers.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import yaml

from at_core.catalog import InstrumentCatalog
from at_core.clock import Clock, WallClock
from at_core.events import EventFactory
from at_core.ids import IdGenerator
from at_core.markets.calendars import preload
from at_core.metrics import Metrics
from at_core.metrics.gateway import CATALOG
from at_core.models.futures_specs import FUTURE_SPECS
from at_core.runtime.bus import BusError, EventBus
from at_core.runtime.logging import get_logger
from at_gateway.adapters import log_redaction
from at_gateway.adapters.dedup import Deduplicator, dedup_key, signal_msg_id
from at_gateway.adapters.outbox import Outbox
from at_gateway.adapters.publisher import DurablePublisher
from at_gateway.config import GatewaySettings
from at_gateway.domain.bounds import QuantityLimits
from at_gateway.domain.limits import TrustedProxies
from at_gateway.domain.redaction import Redactor
from at_gateway.domain.routing import RouteTable, Target
from at_gateway.service import GatewayService, Limits

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
    redactor: Redactor
    proxies: TrustedProxies
    service: GatewayService
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
    """Wire real adapters; installs the log redactor (call after logging is configured)."""
    clock = clock or WallClock()
    # No access line per request (serve() asks uvicorn for none, but the app's logging setup at
    # start re-enables the library loggers): it was a JSON line per alert, 5% of the CPU, and
    # http_requests_total counts every request by route and status anyway.
    logging.getLogger("uvicorn.access").disabled = True
    # Every continuous future an alert names resolves through its exchange calendar: built now
    # (seconds: pandas), not on the first alert (which then missed its answer deadline and sent
    # every alert queued behind it to the outbox).
    preload(sorted({spec.calendar for spec in FUTURE_SPECS.values()}))
    metrics = CATALOG.build()
    outbox = Outbox(settings.outbox_path)
    metrics.gauge("outbox_depth").set(outbox.depth())
    routes = load_routes(settings)
    redactor = Redactor([*routes.secrets, *settings.known_secrets])
    log_redaction.install(redactor)
    factory = EventFactory("gateway", clock, IdGenerator(clock, _rng(settings)))
    catalog = InstrumentCatalog()
    publisher = DurablePublisher(None, outbox, metrics, settings.publish_timeout_s)
    dedup = Deduplicator(settings.dedup_window_s, outbox, clock, metrics)
    service = GatewayService(
        clock=clock,
        factory=factory,
        catalog=catalog,
        routes=routes,
        metrics=metrics,
        dedup=dedup,
        sink=publisher,
        key_of=dedup_key,
        msg_id_of=signal_msg_id,
        redactor=redactor,
        limits=Limits(
            per_source=settings.rate_limit_per_minute,
            per_route=settings.route_rate_limit_per_minute,
            refusals_per_source=settings.refusals_per_source_per_minute,
            dead_letters=settings.dead_letters_per_minute,
            allowlist=frozenset(settings.allowed_ips) if settings.allowlist_enabled else None,
        ),
        quantity=QuantityLimits(
            settings.max_quantity,
            {k: Decimal(str(v)) for k, v in settings.max_quantity_per_instrument.items()},
            {k: Decimal(str(v)) for k, v in settings.max_quantity_per_asset_class.items()},
        ),
        stale_after_s=settings.stale_after_s,
        max_json_depth=settings.max_json_depth,
    )
    return Gateway(
        settings=settings,
        clock=clock,
        factory=factory,
        catalog=catalog,
        routes=routes,
        metrics=metrics,
        outbox=outbox,
        publisher=publisher,
        dedup=dedup,
        redactor=redactor,
        proxies=TrustedProxies(settings.proxies),
        service=service,
    )


async def start(gw: Gateway) -> None:
    """Connect to NATS, check the streams and the dedup bucket; retry until it works.

    Runs in the background: until NATS answers, accepted events go to the outbox. Then, every
    second, dedup claims recorded on disk while the KV bucket was out of reach are copied into it
    (so the other replicas see them), until the app stops (the task is cancelled).
    """
    log.info("gateway_started", routes=len(gw.routes.secrets), outbox_depth=gw.outbox.depth())
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
    while True:
        gw.outbox.prune_claims(gw.clock.now_ns())
        # Claims are shared once the outbox drained: by then JetStream holds their signals' ids, so
        # a replica that finds the claim in the KV also finds JetStream dropping its repeat.
        if gw.bus.connected and gw.outbox.depth() == 0:
            try:
                await gw.dedup.share_claims()
            except Exception as exc:  # try again on the next tick
                log.warning("dedup_share_failed", error=repr(exc)[:200])
        await asyncio.sleep(1.0)


async def stop(gw: Gateway) -> None:
    """Stop the publisher, close the bus and the outbox."""
    await gw.publisher.stop()
    if gw.bus is not None:
        await gw.bus.close()
    gw.outbox.close()
