"""The served process: uvicorn with its start-up heap frozen out of the collector's reach.

Start-up builds a large heap that lives as long as the process (FastAPI and pydantic's models,
the instrument catalog, the market calendars: about 170,000 objects in the gateway). With
CPython's defaults every full collection scans all of it: measured in the gateway under wrk,
64 ms on average (86 ms at worst) every 1.5 s, every request in flight waiting, and the young
generation collected about every 15 requests (7 % of the gateway's CPU). Once the app is up,
:func:`settle_heap` collects once, freezes what is left (``gc.freeze``: the collector no longer
scans it) and collects the young generation less often. Every service's console script serves
through :class:`SettledServer`; the tests' in-process apps keep the collector as it is.
"""

from __future__ import annotations

import gc
import socket

import uvicorn

#: The young generation's threshold once started (CPython's default: 700 more allocations than
#: frees). At 700 the gateway collected 1,585 times in a 12 s run of wrk (start-up included), each
#: time promoting what the requests in flight held into the older generations; frozen and at
#: 10,000, 3 collections in 14 s after start-up.
GC_GEN0_THRESHOLD = 10_000


def settle_heap() -> None:
    """Collect once, freeze what start-up built, and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, *gc.get_threshold()[1:])


class SettledServer(uvicorn.Server):
    """uvicorn's server, :func:`settle_heap` run once the app has started (its lifespan done)."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        settle_heap()


def serve_settled(app: object, host: str, port: int) -> None:
    """``uvicorn.run(app, host=..., port=..., log_config=None, access_log=False)``, the heap settled
    once started (logging is at-core's JSON, configured before)."""
    SettledServer(uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False)).run()  # type: ignore[arg-type]
