"""The local stack: nats-server with per-service users, the four services and the recorder.

Used by `make demo` and `make up`. Processes run under honcho (stack/Procfile); this module
writes their configuration (a nats-server config with least-privilege users rendered from
at-core, an env file with every service's settings), starts honcho in its own process
group, waits for every /readyz, and stops everything on exit or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from at_core.constants import DEFAULT_PORTS
from at_core.permissions import ADMIN_USER, GRANTS, hash_password, nats_server_config
from at_core.testing import free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SERVICES = ("gateway", "agents", "exec_sim", "obs")
PREFIX = {"gateway": "AT_GATEWAY_", "agents": "AT_AGENTS_", "exec_sim": "AT_EXEC_SIM_", "obs": "AT_OBS_"}


@dataclass
class Stack:
    """Where a stack runs: its directory, ports, NATS credentials and extra settings."""

    run_dir: Path
    nats_port: int = 4222
    monitor_port: int = 8222
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    passwords: dict[str, str] = field(default_factory=dict)
    admin_password: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def nats_url(self) -> str:
        return f"nats://127.0.0.1:{self.nats_port}"

    def url(self, service: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    @property
    def log_path(self) -> Path:
        return self.run_dir / "stack.log"


def new_stack(run_dir: Path, *, pick_free_ports: bool = False, extra_env: dict[str, str] | None = None) -> Stack:
    run_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(run_dir=run_dir, extra_env=dict(extra_env or {}))
    if pick_free_ports:
        stack.nats_port, stack.monitor_port = free_port(), free_port()
        stack.ports = {service: free_port() for service in SERVICES}
    stack.passwords = {service: secrets.token_urlsafe(18) for service in GRANTS}
    stack.admin_password = secrets.token_urlsafe(18)
    return stack


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner may read (mode 0600), also when it existed with wider modes."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def durable_prefixes(stack: Stack) -> dict[str, str]:
    """The services' durable prefixes set in ``extra_env`` (the rest keep their defaults)."""
    return {
        s: stack.extra_env[f"{PREFIX[s]}DURABLE_PREFIX"]
        for s in SERVICES
        if f"{PREFIX[s]}DURABLE_PREFIX" in stack.extra_env
    }


ADMIN_PASSWORD_FILE = "admin.password"
PROVISIONED_MARKER = "provisioned"


def write_config(stack: Stack) -> Path:
    """Write nats.conf, stack.env and the admin's password file, all mode 0600; return the env file.

    The server configuration holds bcrypt hashes only. The services' passwords are in
    stack.env (honcho hands one env file to every process of the stack); the admin's is in a
    file of its own that only the provisioning step reads.
    """
    store = stack.run_dir / "jetstream"
    conf = (
        f'server_name: "at-local"\nlisten: "127.0.0.1:{stack.nats_port}"\nhttp: "127.0.0.1:{stack.monitor_port}"\n'
        f'jetstream {{ store_dir: "{store}" }}\n'
        + nats_server_config(stack.passwords, admin_password=stack.admin_password, prefixes=durable_prefixes(stack))
    )
    write_private(stack.run_dir / "nats.conf", conf)
    write_private(stack.run_dir / ADMIN_PASSWORD_FILE, stack.admin_password + "\n")
    (stack.run_dir / PROVISIONED_MARKER).unlink(missing_ok=True)
    env = {
        "AT_STACK_BIN": str(BIN),
        "AT_STACK_DIR": str(stack.run_dir),
        "AT_STACK_NATS_URL": stack.nats_url,
        "AT_STACK_PROVISION_ARGS": " ".join(f"--prefix {s}={p}" for s, p in durable_prefixes(stack).items()),
        "PYTHONUNBUFFERED": "1",
    }
    for service in SERVICES:
        p = PREFIX[service]
        env[f"{p}NATS_URL"] = stack.nats_url
        env[f"{p}NATS_USER"] = service
        env[f"{p}NATS_PASSWORD"] = stack.passwords[service]
        env[f"{p}PORT"] = str(stack.ports[service])
        env[f"{p}HOST"] = "127.0.0.1"
    env.update(stack.extra_env)
    path = stack.run_dir / "stack.env"
    write_private(path, "".join(f"{k}={v}\n" for k, v in sorted(env.items())))
    return path


def start(stack: Stack) -> None:
    """Start honcho with the Procfile in a new process group; output goes to stack.log."""
    env_file = write_config(stack)
    log = stack.log_path.open("ab")
    stack.process = subprocess.Popen(
        [str(BIN / "honcho"), "-f", str(ROOT / "stack" / "Procfile"), "-d", str(ROOT), "-e", str(env_file), "start"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("AT_")},
    )
    log.close()


def _get(url: str, timeout: float = 1.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback only
            return int(resp.status)
    except Exception:
        return 0


def wait_ready(stack: Stack, timeout: float = 90.0) -> dict[str, bool]:
    """Poll every service's /readyz until all answer 200 or the deadline passes."""
    deadline = time.monotonic() + timeout
    ready = dict.fromkeys(SERVICES, False)
    while time.monotonic() < deadline and not all(ready.values()):
        if stack.process is not None and stack.process.poll() is not None:
            break
        for service in SERVICES:
            if not ready[service]:
                ready[service] = _get(stack.url(service, "/readyz")) == 200
        time.sleep(0.25)
    return ready


def stop(stack: Stack, timeout: float = 20.0) -> None:
    """SIGINT the process group (honcho stops its children), then SIGKILL what is left."""
    proc = stack.process
    if proc is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    # honcho's children share its group: make sure none outlived it.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    stack.process = None


@contextlib.contextmanager
def running(stack: Stack, timeout: float = 90.0) -> Iterator[Stack]:
    """Start the stack, wait for it, and always stop it."""
    start(stack)
    try:
        ready = wait_ready(stack, timeout)
        if not all(ready.values()):
            missing = ", ".join(s for s, ok in ready.items() if not ok)
            raise RuntimeError(f"not ready within {timeout:.0f}s: {missing}; see {stack.log_path}")
        yield stack
    finally:
        stop(stack)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


COMPOSE_NATS_CONF = ROOT / "stack" / "nats" / "nats-compose.conf"


#: The NATS users docker compose knows: every service, and the admin (provisioning only).
COMPOSE_NATS_USERS = (*GRANTS, ADMIN_USER)


def compose_password_var(user: str) -> str:
    """The .env variable holding ``user``'s NATS password (the services read it)."""
    return f"NATS_{user.upper()}_PASSWORD"


def compose_hash_var(user: str) -> str:
    """The .env variable holding the bcrypt hash of that password (only nats-server reads it)."""
    return f"{compose_password_var(user)}_BCRYPT"


def compose_nats_conf() -> str:
    """nats-server config for docker compose: bcrypt hashes from the container's environment.

    The committed file names variables, never a password or a hash; nats-server's container gets
    only the hashes (``NATS_<USER>_PASSWORD_BCRYPT``), the services only their own password.
    """
    env_names = {service: compose_hash_var(service) for service in GRANTS}
    return (
        "# Generated by `python tools/stack.py compose-nats-conf` from at_core.permissions: do not edit.\n"
        "# Passwords are bcrypt hashes read from the environment (`python tools/stack.py compose-passwords`).\n"
        'server_name: "at-compose"\nlisten: "0.0.0.0:4222"\nhttp: "0.0.0.0:8222"\n'
        'jetstream { store_dir: "/data" }\n'
        + nats_server_config(env_names, admin_password=compose_hash_var(ADMIN_USER), passwords_from_env=True)
    )


def compose_passwords(token: Callable[[], str] = lambda: secrets.token_urlsafe(24)) -> str:
    """Fresh NATS passwords and their bcrypt hashes as .env lines, for ``>> .env`` (mode 0600).

    A hash is written single-quoted and in double quotes: compose takes a single-quoted value
    as it is, and nats-server reads ``"$2b$..."`` from its environment as a string (unquoted,
    it would read ``$2b`` as a variable reference).
    """
    lines = ["# NATS users for docker compose: `python tools/stack.py compose-passwords >> .env`"]
    for user in COMPOSE_NATS_USERS:
        password = token()
        lines.append(f"{compose_password_var(user)}={password}")
        lines.append(f"{compose_hash_var(user)}='\"{hash_password(password)}\"'")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["compose-nats-conf"]:
        COMPOSE_NATS_CONF.write_text(compose_nats_conf())
        print(f"wrote {COMPOSE_NATS_CONF}")
    elif sys.argv[1:] == ["compose-passwords"]:
        print(compose_passwords(), end="")
    else:
        sys.exit("usage: python tools/stack.py compose-nats-conf | compose-passwords")


def procfile_commands() -> dict[str, str]:
    """The Procfile's process names and commands, in order."""
    out: dict[str, str] = {}
    for line in (ROOT / "stack" / "Procfile").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            out[name.strip()] = command.strip()
    return out


class Processes:
    """The Procfile's processes started one by one, so tests can kill -9 and restart any of them."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.env_file = write_config(stack)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AT_")}
        for line in self.env_file.read_text().splitlines():
            key, _, value = line.partition("=")
            self.env[key] = value
        self.commands = procfile_commands()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        log = (self.stack.run_dir / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            ["bash", "-c", self.commands[name]],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def start_all(self) -> None:
        for name in self.commands:
            self.start(name)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # a shutdown that hangs must not outlive the stack
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):  # what else the group holds (bash gone, its child not)
            os.killpg(proc.pid, signal.SIGKILL)

    def stop_all(self) -> None:
        for name in reversed(list(self.procs)):
            self.kill(name, signal.SIGTERM)

    def log(self, name: str, lines: int = 40) -> str:
        return tail(self.stack.run_dir / f"{name}.log", lines)
