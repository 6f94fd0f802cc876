"""A record's payload (at-core's canonical JSON of an event) decoded for the console. Pure."""

from __future__ import annotations

import json
from typing import Any


def decode_payload(payload: bytes) -> dict[str, Any]:
    """The event as a dict; ``{}`` for what is not an object.

    json, not orjson: orjson reads an integer beyond 64 bits (which canonical JSON may hold)
    as a float, and it would save about 20 us per alert (six events the ledger reads).
    """
    event = json.loads(payload)
    return event if isinstance(event, dict) else {}
