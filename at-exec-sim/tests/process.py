"""exec-sim as the stack runs it, for the tests that kill or stop the process: its console script
in a session of its own, on a free port, its log in a file."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from at_core.service_kit import Scope, dev_headers
from at_core.testing import free_port

EXEC_SIM = Path(sys.executable).parent / "at-exec-sim"  # the console script the stack's Procfile runs


class ExecSimProcess:
    """exec-sim as a real process: ``env`` holds its ``AT_EXEC_SIM_*`` settings (the port is added)."""

    def __init__(self, env: dict[str, str], run_dir: Path, name: str) -> None:
        self.port = free_port()
        self.log = run_dir / f"{name}.log"
        env = env | {"AT_EXEC_SIM_PORT": str(self.port)}
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [str(EXEC_SIM)], env=env, cwd=run_dir, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.client = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.port}", timeout=10, headers=dev_headers(Scope.OPERATOR)
        )

    async def ready(self) -> ExecSimProcess:
        for _ in range(600):  # readiness, polled with a bound (a process start, not a message)
            if self.proc.poll() is not None:
                raise RuntimeError(f"exec-sim exited {self.proc.returncode}: {self.log.read_text()[-3000:]}")
            try:
                if (await self.client.get("/readyz")).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
        raise RuntimeError(f"exec-sim not ready: {self.log.read_text()[-3000:]}")

    async def logged(self, *events: str, bound_s: float = 30) -> None:
        """Until the log holds each of these events (a file, polled with a bound)."""
        for _ in range(int(bound_s * 20)):
            if all(f'"event":"{e}"' in self.log.read_text() for e in events):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"exec-sim never logged {events}: {self.log.read_text()[-3000:]}")

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        assert self.proc.wait(10) == -signal.SIGKILL

    async def terminate(self, bound_s: float) -> int:
        """SIGTERM, as a deploy or Ctrl-C stops it; its exit code. Raises if it has not exited
        within ``bound_s`` (a generous bound that proves "not hung", not a timing assert)."""
        await self.client.aclose()
        self.proc.send_signal(signal.SIGTERM)
        for _ in range(int(bound_s * 20)):
            if (code := self.proc.poll()) is not None:
                return code
            await asyncio.sleep(0.05)
        raise AssertionError(f"exec-sim did not exit within {bound_s} s of SIGTERM: {self.log.read_text()[-3000:]}")

    async def stop(self) -> None:
        """Ended with SIGKILL: what the kill tests show it survives (its graceful stop has its own test)."""
        await self.client.aclose()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    async def orders(self, account_id: str) -> dict[str, dict[str, Any]]:
        rows = (await self.client.get("/orders", params={"account_id": account_id})).json()
        return {r["client_order_id"]: r for r in rows}


@asynccontextmanager
async def exec_sim(env: dict[str, str], run_dir: Path, name: str) -> AsyncIterator[ExecSimProcess]:
    """A started, ready exec-sim process, killed at the end."""
    proc = ExecSimProcess(env, run_dir, name)
    try:
        yield await proc.ready()
    finally:
        await proc.stop()
