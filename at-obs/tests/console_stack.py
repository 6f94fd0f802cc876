"""A real recorder (uvicorn, its console) over a real nats-server, fed by the paper stack, for console tests.

The recorder runs as its own process (``at-recorder``, settings from the environment, as
``make up`` runs it), so a browser driven from the test never shares an event loop with it.
The paper stack and a loopback stand-in for exec-sim's control API run on an event loop in
a thread of the test process. The stand-in speaks exec-sim's ``/kill-switch`` and
``/resume`` (JSON body, bearer key) and publishes the ``trading_state_changed`` exec-sim
would; at-obs tests never import another service.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import nats
import uvicorn
from fastapi import FastAPI, Header, HTTPException
from tests.paper_stack import ACCOUNT, MES, STRATEGY, T0, recorded_session, serve, session_inputs

from at_core import subjects
from at_core.clock import ManualClock
from at_core.events import Event, EventFactory, SignalEvent, TradingStateChangedEvent
from at_core.ids import IdGenerator
from at_core.models.enums import AssetClass, IngestSource, PositionSide, SignalAction, TradingState
from at_core.runtime.bus import event_headers
from at_core.runtime.provision import provision_url
from at_core.serialization import encode_event
from at_core.testing import NatsServer, free_port

T = TypeVar("T")
EXEC_KEY = "exec-sim-operator-key-for-tests"
BIN = Path(sys.executable).parent


class LoopThread:
    """An asyncio loop in a daemon thread; ``run`` waits for one coroutine with a deadline."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="console-stack-loop")
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def exec_sim_stand_in(stack: ConsoleStack) -> FastAPI:
    """exec-sim's control API on loopback: checks the bearer key, publishes the halt or resume."""
    app = FastAPI()
    clock = ManualClock(T0 + 86_400 * 10**9)
    factory = EventFactory("exec_sim", clock, IdGenerator(clock, random.Random(7)))

    async def change(account_id: str, state: TradingState, previous: TradingState, reason: str) -> None:
        clock.advance(10**9)
        event = factory.make(
            TradingStateChangedEvent,
            account_id=account_id,
            state=state,
            previous_state=previous,
            reason=reason,
            message=f"{reason} from the console",
        )
        await stack.publish_async([event])

    def check(authorization: str | None) -> None:
        if authorization != f"Bearer {EXEC_KEY}":
            raise HTTPException(401, "operator key required")

    @app.post("/kill-switch")
    async def kill(body: dict[str, Any], authorization: str | None = Header(default=None)) -> dict[str, Any]:
        check(authorization)
        stack.control_calls.append({"action": "kill_switch", **body})
        await change(body["account_id"], TradingState.HALTED, TradingState.HALTED, "kill_switch")
        return {"status": "halted", "events": []}

    @app.post("/resume")
    async def resume(body: dict[str, Any], authorization: str | None = Header(default=None)) -> dict[str, Any]:
        check(authorization)
        stack.control_calls.append({"action": "resume", **body})
        await change(body["account_id"], TradingState.ACTIVE, TradingState.HALTED, "resume")
        return {"status": "active", "events": []}

    @app.get("/readyz")
    async def readyz() -> dict[str, Any]:
        return {"ready": True, "unpublished_events": 0}

    return app


@dataclass
class ConsoleStack:
    run_dir: Path
    nats: NatsServer = field(default_factory=NatsServer)
    loop: LoopThread = field(default_factory=LoopThread)
    port: int = field(default_factory=free_port)
    exec_port: int = field(default_factory=free_port)
    control_calls: list[dict[str, Any]] = field(default_factory=list)
    recorder: subprocess.Popen[bytes] | None = None
    _nc: Any = None
    _paper: Any = None
    _exec_server: uvicorn.Server | None = None
    _live_clock: ManualClock = field(default_factory=lambda: ManualClock(T0 + 2 * 86_400 * 10**9))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, extra_env: dict[str, str] | None = None) -> ConsoleStack:
        self.nats.start()
        self.loop.run(provision_url(self.nats.url))  # streams and durables first: the recorder only binds
        self.loop.run(self._start_async())
        env = {k: v for k, v in os.environ.items() if not k.startswith("AT_")}
        env.update(
            {
                "AT_OBS_NATS_URL": self.nats.url,
                "AT_OBS_PORT": str(self.port),
                "AT_OBS_AUDIT_DB_PATH": str(self.run_dir / "audit.sqlite3"),
                "AT_OBS_JETSTREAM_POLL_S": "0.5",
                "AT_OBS_EXEC_SIM_URL": f"http://127.0.0.1:{self.exec_port}",
                "AT_OBS_EXEC_SIM_API_KEY": EXEC_KEY,
                "AT_OBS_CONSOLE_HEALTH_URLS": json.dumps({"exec_sim": f"http://127.0.0.1:{self.exec_port}/readyz"}),
                **(extra_env or {}),
            }
        )
        log = (self.run_dir / "recorder.log").open("ab")
        # cwd is the run dir, so no developer's .env is read
        self.recorder = subprocess.Popen(
            [str(BIN / "at-recorder")], env=env, cwd=self.run_dir, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self.wait_for(lambda: self._get_json("/readyz").get("ready") is True, 30, "the recorder to be ready")
        return self

    async def _start_async(self) -> None:
        self._nc = await nats.connect(self.nats.url, name="console-test-publisher")
        self._paper = await serve(self.nats.url)
        self._exec_server = uvicorn.Server(
            uvicorn.Config(exec_sim_stand_in(self), host="127.0.0.1", port=self.exec_port, log_level="warning")
        )
        asyncio.get_running_loop().create_task(self._exec_server.serve())
        while not self._exec_server.started:  # noqa: ASYNC110 - uvicorn has no started event to await
            await asyncio.sleep(0.02)

    async def publish_async(self, events: list[Event]) -> None:
        js = self._nc.jetstream()
        for event in events:
            await js.publish(subjects.subject_for(event), encode_event(event), headers=event_headers(event))

    def publish(self, events: list[Event]) -> None:
        self.loop.run(self.publish_async(events))

    def play_session(self) -> int:
        """Publish the session's inputs; the paper stack answers; returns the records expected."""
        self.publish(session_inputs())
        expected = len(recorded_session())
        self.wait_for(lambda: self._get_json("/readyz").get("head_seq", 0) >= expected, 30, "the session recorded")
        return expected

    def new_signal(self, target: int = 1) -> SignalEvent:
        """A fresh signal (ids and time of its own) for the live tail."""
        self._live_clock.advance(60 * 10**9)
        gw = EventFactory("gateway", self._live_clock, IdGenerator(self._live_clock, random.Random(time.time_ns())))
        return gw.make(
            SignalEvent,
            origin=IngestSource.TRADINGVIEW,
            account_id=ACCOUNT,
            strategy_id=STRATEGY,
            instrument_id=MES,
            asset_class=AssetClass.FUTURE,
            ticker="CME_MINI:MES1!",
            action=SignalAction.BUY,
            price=6000,
            position_size=target,
            market_position=PositionSide.LONG,
            alert_id="tv-live",
            interval="5",
        )

    def _get_json(self, path: str) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=2) as resp:
                return json.loads(resp.read())
        except Exception:
            return {}

    def wait_for(self, check: Any, timeout: float, what: str) -> None:
        """Poll a condition on another process (HTTP state has no message to await), with a deadline."""
        deadline = time.monotonic() + timeout
        while not check():
            if self.recorder is not None and self.recorder.poll() is not None:
                raise RuntimeError(f"the recorder exited: {self.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout}s for {what}: {self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self) -> str:
        path = self.run_dir / "recorder.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-30:]) if path.exists() else ""

    def stop(self) -> None:
        if self.recorder is not None:
            self.recorder.terminate()
            try:
                self.recorder.wait(20)
            except subprocess.TimeoutExpired:
                self.recorder.kill()
                self.recorder.wait()
        if self._exec_server is not None:
            self._exec_server.should_exit = True

        async def close() -> None:
            for nc in (self._nc, self._paper):
                if nc is not None:
                    await nc.close()
            await asyncio.sleep(0.2)  # let the stand-in's server task see should_exit

        try:
            self.loop.run(close(), timeout=10)
        finally:
            self.loop.close()
            self.nats.close()
