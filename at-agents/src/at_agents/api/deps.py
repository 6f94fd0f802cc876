"""FastAPI dependencies: the running service (built in ``create_app``, on ``app.state.service``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from at_agents.service import AgentsService


def get_service(request: Request) -> AgentsService:
    return request.app.state.service


ServiceDep = Annotated[AgentsService, Depends(get_service)]
