"""FastAPI dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from at_exec_sim.bootstrap import ExecSim


def get_service(request: Request) -> ExecSim:
    return request.app.state.service


ServiceDep = Annotated[ExecSim, Depends(get_service)]
