"""One bounded NATS connection for the replay tools (the reader of a JetStream recording, the driver).

nats-py retries a failed *first* connection for ``max_reconnect_attempts`` x
``reconnect_time_wait`` (minutes by default, forever when unbounded): an operator who mistyped
``--nats`` would stare at a silent prompt. One attempt is made here; reconnects after that use
nats-py's defaults.
"""

from __future__ import annotations

import nats
from nats.aio.client import Client

from at_obs.errors import NatsUnavailableError


async def connect(url: str, user: str | None, password: str | None, name: str, timeout_s: float = 2.0) -> Client:
    """A connected client, or :class:`NatsUnavailableError` after one attempt.

    Raises:
        NatsUnavailableError: the server refused, timed out or rejected the credentials.
    """
    try:
        nc = await nats.connect(
            url,
            user=user,
            password=password,
            name=name,
            connect_timeout=timeout_s,
            max_reconnect_attempts=1,
            allow_reconnect=True,
        )
    except Exception as exc:  # nats raises several unrelated types here
        raise NatsUnavailableError(url, f"{type(exc).__name__}: {exc}") from exc
    nc.options["max_reconnect_attempts"] = 60
    return nc
