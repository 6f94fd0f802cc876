"""Chart screenshots: fetched from the JetStream Object Store named in a ChartSnapshotEvent."""

from __future__ import annotations

import hashlib

from nats.js import JetStreamContext

from at_core.events import ChartSnapshotEvent


async def fetch_chart(js: JetStreamContext, event: ChartSnapshotEvent) -> bytes | None:
    """The image bytes, or None when missing or when they do not match the event's sha256."""
    try:
        store = await js.object_store(event.bucket)
        result = await store.get(event.object_name)
    except Exception:
        return None
    data = result.data or b""
    return data if hashlib.sha256(data).hexdigest() == event.sha256 else None
