"""FastAPI dependencies: the recorder built in the lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from at_obs.service import Recorder


def get_recorder(request: Request) -> Recorder:
    return request.app.state.service


RecorderDep = Annotated[Recorder, Depends(get_recorder)]
