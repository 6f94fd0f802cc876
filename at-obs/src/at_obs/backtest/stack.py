"""The services under backtest (adapter): agents and exec-sim in replay mode on an embedded NATS.

at-obs never imports a service: it starts the installed ``at-agents`` and ``at-exec-sim``
executables as processes, each on the event clock (``REPLAY_MODE=true``) with one seed, on a
private nats-server (at-core's :class:`~at_core.testing.NatsServer`, JetStream in a temporary
directory, loopback only), and waits for their ``/readyz``. The gateway is not started: the
backtest's signals are the gateway's output, published with their own ids and times, as
``at-replay`` does. Nothing outlives the context: processes are stopped (TERM, then KILL).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from at_core.constants import SERVICE_AGENTS, SERVICE_BY_NAME, SERVICE_EXEC_SIM
from at_core.durables import DURABLES
from at_core.runtime.provision import provision_url
from at_core.testing import NatsServer, NatsServerError, free_port
from at_obs.backtest.errors import StackError

#: The services a backtest runs (console script, settings prefix), from at-core's one list of services.
SERVICES = {
    name: (SERVICE_BY_NAME[name].command, SERVICE_BY_NAME[name].env_prefix)
    for name in (SERVICE_AGENTS, SERVICE_EXEC_SIM)
}
#: The durables of the services started here, and no others: the stack is idle when these are
#: (a recorder durable, with no recorder running, would never drain and stall every barrier).
STACK_DURABLES = tuple(d for d in DURABLES if d.service in (SERVICE_AGENTS, SERVICE_EXEC_SIM))
ALLOWED_PREFIXES = tuple(prefix for _, prefix in SERVICES.values())


@dataclass(frozen=True)
class StackSettings:
    """What the services are started with; ``env`` holds extra ``AT_AGENTS_*`` / ``AT_EXEC_SIM_*`` settings."""

    seed: int = 7
    env: dict[str, str] = field(default_factory=dict)
    ready_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        bad = sorted(k for k in self.env if not k.startswith(ALLOWED_PREFIXES))
        if bad:
            raise StackError(f"settings must start with {' or '.join(ALLOWED_PREFIXES)}: {', '.join(bad)}")


def _executable(name: str) -> str:
    local = Path(sys.executable).parent / name
    found = str(local) if local.is_file() else shutil.which(name)
    if found is None:
        raise StackError(f"{name} is not installed in this environment (make setup installs every service)")
    return found


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as resp:
            return int(resp.status) == 200
    except Exception:  # not listening yet, or 503 while it connects
        return False


class _Processes:
    def __init__(self, nats_url: str, settings: StackSettings, run_dir: Path) -> None:
        self.nats_url, self.settings, self.run_dir = nats_url, settings, run_dir
        self.procs: dict[str, tuple[subprocess.Popen[bytes], int]] = {}

    def start(self) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith("AT_")}
        for service, (exe, prefix) in SERVICES.items():
            port = free_port()
            env = base | {
                f"{prefix}NATS_URL": self.nats_url,
                f"{prefix}HOST": "127.0.0.1",
                f"{prefix}PORT": str(port),
                f"{prefix}REPLAY_MODE": "true",
                f"{prefix}SEED": str(self.settings.seed),
                f"{prefix}ENVIRONMENT": "test",
                "PYTHONUNBUFFERED": "1",
            }
            if service == "agents":
                env[f"{prefix}LLM_CACHE_DIR"] = str(self.run_dir / "llm-cache")
            env |= {k: v for k, v in self.settings.env.items() if k.startswith(prefix)}
            log = (self.run_dir / f"{service}.log").open("ab")
            proc = subprocess.Popen(
                [_executable(exe)], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            log.close()
            self.procs[service] = (proc, port)

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + self.settings.ready_timeout_s
        waiting = dict(self.procs)
        while waiting:
            for service, (proc, port) in list(waiting.items()):
                if proc.poll() is not None:
                    raise StackError(f"{service} exited with {proc.returncode} at start", self.log_tail(service))
                if await asyncio.to_thread(_ready, port):
                    del waiting[service]
            if waiting and time.monotonic() > deadline:
                names = ", ".join(waiting)
                raise StackError(
                    f"not ready within {self.settings.ready_timeout_s:.0f} s: {names}", self.log_tail(names)
                )
            await asyncio.sleep(0.1)  # /readyz is HTTP state, no message to await

    def log_tail(self, service: str, lines: int = 20) -> str:
        path = self.run_dir / f"{service.split(',')[0]}.log"
        with contextlib.suppress(OSError):
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        for proc, _ in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc, _ in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self.procs.clear()


@contextlib.asynccontextmanager
async def backtest_stack(settings: StackSettings, run_dir: Path | None = None) -> AsyncIterator[str]:
    """Start nats-server, agents and exec-sim; yield the NATS URL; stop everything.

    Raises:
        StackError: nats-server or a service is missing, exits, or is not ready in time.
    """
    own_dir = run_dir is None
    where = Path(tempfile.mkdtemp(prefix="at-backtest-")) if run_dir is None else run_dir
    where.mkdir(parents=True, exist_ok=True)
    try:
        (where / "nats").mkdir(exist_ok=True)
        server = NatsServer(store_dir=where / "nats").start()
    except NatsServerError as exc:
        raise StackError(f"cannot start nats-server: {exc}") from exc
    procs = _Processes(server.url, settings, where)
    try:
        await provision_url(server.url, durables=STACK_DURABLES)  # streams and durables first: services only bind
        procs.start()
        await procs.wait_ready()
        yield server.url
    finally:
        procs.stop()
        server.stop()
        if own_dir:
            shutil.rmtree(where, ignore_errors=True)
