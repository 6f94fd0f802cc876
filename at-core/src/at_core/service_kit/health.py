"""``/healthz``, ``/readyz`` and ``/metrics``: the same three routes in every service.

* ``/healthz``: the process answers (200, always).
* ``/readyz``: 200 only when the service says it is ready *and* every durable consumer it
  runs is present and making progress in JetStream (:class:`ConsumerWatch`); else 503. The
  body shows each check and each durable, so an operator sees which one is red.
* ``/metrics``: the service's Prometheus registry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from at_core.runtime.bus import Consumer

router = APIRouter(tags=["health"])


def no_consumers(_: Any) -> Sequence[Consumer]:
    """The ``consumers`` of a service that consumes nothing (its ``/readyz`` has no ``durables``)."""
    return ()


@dataclass(frozen=True, slots=True)
class Readiness:
    """A service's own view of its readiness: the verdict and what it was made of (shown in the body)."""

    ready: bool
    checks: Mapping[str, Any] = field(default_factory=dict)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Ready to do its work: the service's checks, and every durable consumer present and progressing."""
    kit = request.app.state.kit
    svc = getattr(request.app.state, "service", None)
    if svc is None:
        return JSONResponse({"ready": False, "starting": True}, 503)
    own: Readiness = await kit.spec.readiness(svc)
    durables = await kit.watch.check(kit.spec.consumers(svc))
    ready = own.ready and all(d.ok for d in durables)
    body: dict[str, Any] = {"ready": ready, **own.checks}
    if kit.spec.consumers is not no_consumers:
        body["durables"] = [d.as_dict() for d in durables]
    return JSONResponse(body, 200 if ready else 503)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus metrics."""
    svc = getattr(request.app.state, "service", None)
    if svc is None:
        return Response(b"", media_type=CONTENT_TYPE_LATEST, status_code=503)
    return Response(generate_latest(request.app.state.kit.spec.registry(svc)), media_type=CONTENT_TYPE_LATEST)
