"""The console's live feed: a plain NATS subscription to every at-core subject (no durable).

The console only shows what happens; it never acknowledges anything, so a core
subscription is enough: a console that restarts reads the past back from the audit store.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import nats
from nats.aio.client import Client

from at_core import subjects
from at_core.runtime.logging import get_logger
from at_core.runtime.settings import ServiceSettings

log = get_logger("at_obs.console")
#: A live message bigger than this is not shown (events are far smaller).
MAX_EVENT_BYTES = 1_000_000


def decode_live(data: bytes) -> dict[str, Any] | None:
    """The event a message carries as a dict, or None for anything that is not an event."""
    if len(data) > MAX_EVENT_BYTES:
        return None
    try:
        event = json.loads(data)
    except ValueError:
        return None
    if not isinstance(event, dict) or not isinstance(event.get("event_id"), str) or "event_type" not in event:
        return None
    return event


async def subscribe_all(settings: ServiceSettings, on_event: Callable[[dict[str, Any]], None]) -> Client:
    """Connect with the recorder's NATS user and call ``on_event`` for every event published."""
    password = settings.nats_password.get_secret_value() if settings.nats_password else None
    nc = await nats.connect(
        servers=settings.nats_servers,
        user=settings.nats_user,
        password=password,
        name="at-obs-console",
        connect_timeout=settings.nats_connect_timeout_s,
        max_reconnect_attempts=-1,
    )

    async def on_msg(msg: Any) -> None:
        event = decode_live(msg.data)
        if event is not None:
            on_event(event)

    await nc.subscribe(subjects.ALL, cb=on_msg, pending_msgs_limit=100_000)
    await nc.flush()
    log.info("console_feed_subscribed", subject=subjects.ALL)
    return nc
