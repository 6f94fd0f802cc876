"""FastAPI dependencies: the running service, and the engine's read-only query view."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from at_exec_sim.domain.query import EngineQuery
from at_exec_sim.service import ExecSim


def get_service(request: Request) -> ExecSim:
    return request.app.state.service


def get_query(request: Request) -> EngineQuery:
    """What the routes read of the engine's state (never the engine's cache itself)."""
    return get_service(request).query


ServiceDep = Annotated[ExecSim, Depends(get_service)]
QueryDep = Annotated[EngineQuery, Depends(get_query)]
