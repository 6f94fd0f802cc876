"""A real recorder (uvicorn, its console) over a real nats-server, fed by the paper stack, for console tests.

The recorder runs as its own process (``at-recorder``, settings from the environment, as
``make up`` runs it), so a browser driven from the test never shares an event loop with it.
The paper stack runs on an event loop in a thread of the test process and answers the
recorded session's inputs. The kill switch and resume go to a real exec-sim (the installed
``at-exec-sim`` executable, as a process: at-obs never imports another service), started after
the session is recorded, on durables of its own that take only new events: it recovers the
session's state from JetStream as at a restart, and answers the console's buttons.
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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import nats
from tests.paper_stack import ACCOUNT, MES, STRATEGY, T0, recorded_session, serve, session_inputs

from at_core import subjects
from at_core.clock import ManualClock
from at_core.constants import SERVICE_EXEC_SIM
from at_core.durables import durables_of
from at_core.errors import DecodeError
from at_core.events import Event, EventFactory, SignalEvent, TradingStateChangedEvent
from at_core.ids import IdGenerator
from at_core.models.enums import AssetClass, IngestSource, PositionSide, SignalAction
from at_core.runtime.bus import event_headers
from at_core.runtime.provision import provision_url
from at_core.serialization import decode_event, encode_event
from at_core.service_kit.auth import DEV_KEYS, Scope
from at_core.testing import NatsServer, free_port

T = TypeVar("T")
EXEC_KEY = DEV_KEYS[Scope.OPERATOR]  # exec-sim's default key ring outside production
EXEC_PREFIX = "console-exec-sim"  # durables of its own, new events only: the session is not traded twice
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


@dataclass
class ConsoleStack:
    run_dir: Path
    nats: NatsServer = field(default_factory=NatsServer)
    loop: LoopThread = field(default_factory=LoopThread)
    port: int = field(default_factory=free_port)
    exec_port: int = field(default_factory=free_port)
    #: (reason, state) of every trading_state_changed on the bus since start, in arrival order.
    state_changes: list[tuple[str, str]] = field(default_factory=list)
    recorder: subprocess.Popen[bytes] | None = None
    exec_sim: subprocess.Popen[bytes] | None = None
    _nc: Any = None
    _paper: Any = None
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

        async def on_state(msg: Any) -> None:
            try:
                event = decode_event(msg.data)
            except DecodeError:
                return
            if isinstance(event, TradingStateChangedEvent):
                self.state_changes.append((event.reason, str(event.state)))

        await self._nc.subscribe(subjects.TRADING_STATES, cb=on_state)
        self._paper = await serve(self.nats.url)

    def start_exec_sim(self) -> None:
        """The real exec-sim, after the session: it recovers it from JetStream and takes new events only."""
        durables = tuple(replace(d, new_only=True) for d in durables_of(SERVICE_EXEC_SIM))
        self.loop.run(provision_url(self.nats.url, prefixes={SERVICE_EXEC_SIM: EXEC_PREFIX}, durables=durables))
        env = {k: v for k, v in os.environ.items() if not k.startswith("AT_")}
        env.update(
            {
                "AT_EXEC_SIM_NATS_URL": self.nats.url,
                "AT_EXEC_SIM_HOST": "127.0.0.1",
                "AT_EXEC_SIM_PORT": str(self.exec_port),
                "AT_EXEC_SIM_DURABLE_PREFIX": EXEC_PREFIX,
                "AT_EXEC_SIM_ENVIRONMENT": "test",
            }
        )
        log = (self.run_dir / "exec-sim.log").open("ab")
        self.exec_sim = subprocess.Popen(
            [str(BIN / "at-exec-sim")], env=env, cwd=self.run_dir, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        ready = f"http://127.0.0.1:{self.exec_port}/readyz"
        self.wait_for(lambda: self._get_json(ready).get("ready") is True, 60, "exec-sim to be ready")

    def kill_switches(self) -> int:
        """How many halts by the kill switch came over the bus (after a flush of the test's connection)."""
        self.loop.run(self._nc.flush())
        return sum(1 for reason, _ in self.state_changes if reason == "kill_switch")

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
            with urllib.request.urlopen(path if "://" in path else self.url + path, timeout=2) as resp:
                return json.loads(resp.read())
        except Exception:
            return {}

    def wait_for(self, check: Any, timeout: float, what: str) -> None:
        """Poll a condition on another process (HTTP state has no message to await), with a deadline."""
        deadline = time.monotonic() + timeout
        while not check():
            for name, proc in (("recorder", self.recorder), ("exec-sim", self.exec_sim)):
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"the {name} exited: {self.log_tail(name)}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout}s for {what}: {self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self, name: str = "recorder") -> str:
        path = self.run_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-30:]) if path.exists() else ""

    def stop(self) -> None:
        for proc in (self.exec_sim, self.recorder):
            if proc is None:
                continue
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

        async def close() -> None:
            for nc in (self._nc, self._paper):
                if nc is not None:
                    await nc.close()

        try:
            self.loop.run(close(), timeout=10)
        finally:
            self.loop.close()
            self.nats.close()
