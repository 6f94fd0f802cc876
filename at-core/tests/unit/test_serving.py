"""The served process's heap: start-up frozen out of the collector's reach (serving.settle_heap)."""

from __future__ import annotations

import asyncio
import gc

import uvicorn

from at_core.runtime import serving


def test_settling_the_heap_freezes_what_start_up_built_and_collects_the_young_less_often() -> None:
    before = gc.get_threshold()
    try:
        serving.settle_heap()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (serving.GC_GEN0_THRESHOLD, *before[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


async def test_the_uvicorn_server_every_console_script_runs_settles_the_heap_once_started(monkeypatch) -> None:
    settled = asyncio.Event()
    monkeypatch.setattr(serving, "settle_heap", settled.set)

    async def app(scope, receive, send) -> None:  # nothing is requested here
        raise AssertionError(scope)

    server = serving.SettledServer(uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_config=None))
    task = asyncio.create_task(server.serve())
    try:
        await asyncio.wait_for(settled.wait(), 20)
        assert server.started
    finally:
        server.should_exit = True
        await task
