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

#: Where the local stack keeps the NATS admin's password (`make up`: var/up; `make demo`: var/demo-*).
ADMIN_HINT = (
    "use the admin credentials of the stack: --user admin --password-file var/up/admin.password "
    "(`make up` prints the path; another run directory has its own admin.password)"
)


def _reason(exc: BaseException, seen: list[BaseException]) -> str:
    """What went wrong, in words: an authorization violation says which credentials to use."""
    texts = [f"{type(e).__name__}: {e}" for e in (*seen, exc)]
    if any("authorization" in t.lower() for t in texts):
        return f"authorization violation: {ADMIN_HINT}"
    if any("timeout" in t.lower() or "refused" in t.lower() or "noservers" in t.lower() for t in texts):
        return f"no NATS server answers there ({texts[-1]}); is the stack running, and is --nats its URL?"
    return texts[-1]


async def connect(url: str, user: str | None, password: str | None, name: str, timeout_s: float = 2.0) -> Client:
    """A connected client, or :class:`NatsUnavailableError` after one attempt.

    nats-py's default error callback logs every failed attempt with a traceback; here they are
    collected instead and summed up in the one error raised.

    Raises:
        NatsUnavailableError: the server refused, timed out or rejected the credentials.
    """
    seen: list[BaseException] = []

    async def on_error(exc: BaseException) -> None:
        seen.append(exc)

    try:
        nc = await nats.connect(
            url,
            user=user,
            password=password,
            name=name,
            connect_timeout=timeout_s,
            max_reconnect_attempts=1,
            allow_reconnect=True,
            error_cb=on_error,
        )
    except Exception as exc:  # nats raises several unrelated types here
        raise NatsUnavailableError(url, _reason(exc, seen)) from exc
    nc.options["max_reconnect_attempts"] = 60
    return nc
