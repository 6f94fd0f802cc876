"""FastAPI dependencies: the wired gateway, as an ``Annotated`` alias."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from at_gateway.bootstrap import Gateway


def gateway_of(request: Request) -> Gateway:
    """The wired gateway; the webhook hot path calls this directly rather than through ``Depends``."""
    return request.app.state.service


async def get_gateway(request: Request) -> Gateway:
    # async: a sync dependency would cost a thread hop on every request
    return gateway_of(request)


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
