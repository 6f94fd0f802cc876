"""The local stack: nats-server with per-service users, the four services and the recorder.

Used by `make demo` and `make up`. The processes are stack/Procfile's lines, each started by
this module in a session of its own, with its output in ``<run dir>/<name>.log``. The module
writes their configuration (a nats-server config with least-privilege users rendered from
at-core, an env file with every service's settings), refuses to start on ports already in
use, waits for every /readyz, then supervises the processes by pid: when one exits, it says
which, how, and its last log lines, and stops the rest (:class:`ProcessDied`).

Settings: every ``AT_*`` variable of the environment or of the repository's ``.env`` reaches the
services (the environment wins over ``.env``); ``AT_<SERVICE>_PORT`` moves a service,
``AT_STACK_NATS_PORT`` and ``AT_STACK_NATS_MONITOR_PORT`` move nats-server. Only the NATS URL,
user and password are the stack's own (it generates the users).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from at_core.constants import DEFAULT_NATS_PORT, DEFAULT_PORTS, SERVICE_NAMES
from at_core.constants import SERVICES as SERVICE_TABLE
from at_core.permissions import ADMIN_USER, GRANTS, hash_password, nats_server_config
from at_core.testing import free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
#: The services, from the one list in at-core (at_core.constants.SERVICES).
SERVICES: tuple[str, ...] = SERVICE_NAMES
PREFIX = {s.name: s.env_prefix for s in SERVICE_TABLE}
#: Procfile process name of each service.
PROCESS = {s.name: s.process for s in SERVICE_TABLE}
DEFAULT_MONITOR_PORT = 8222
#: Settings the stack sets itself (it generates the NATS users): never taken from the environment.
STACK_OWNED = ("NATS_URL", "NATS_USER", "NATS_PASSWORD")
#: How long a stop waits for processes to exit on SIGTERM before it SIGKILLs them.
STOP_GRACE_S = 20.0
NATS_PORT_VAR, MONITOR_PORT_VAR = "AT_STACK_NATS_PORT", "AT_STACK_NATS_MONITOR_PORT"


@dataclass
class Stack:
    """Where a stack runs: its directory, ports, NATS credentials and extra settings."""

    run_dir: Path
    nats_port: int = DEFAULT_NATS_PORT
    monitor_port: int = DEFAULT_MONITOR_PORT
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    passwords: dict[str, str] = field(default_factory=dict)
    admin_password: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: Processes | None = None
    #: Settings of the environment or .env the stack did not pass on, with why (the banner says).
    ignored_settings: list[str] = field(default_factory=list)

    @property
    def nats_url(self) -> str:
        return f"nats://127.0.0.1:{self.nats_port}"

    def url(self, service: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    @property
    def log_path(self) -> Path:
        """Where the logs are: one file per process, ``<name>.log``."""
        return self.run_dir

    @property
    def admin_password_file(self) -> Path:
        return self.run_dir / ADMIN_PASSWORD_FILE

    def all_ports(self) -> dict[str, int]:
        """Every port the stack listens on, by what listens there."""
        return {"nats": self.nats_port, "nats monitor": self.monitor_port, **self.ports}


def new_stack(
    run_dir: Path,
    *,
    pick_free_ports: bool = False,
    extra_env: dict[str, str] | None = None,
    settings: Mapping[str, str] | None = None,
) -> Stack:
    """A stack in ``run_dir``. ``settings`` (see :func:`settings_from_environment`) override
    ``extra_env`` and choose ports; ``pick_free_ports`` (tests, benchmarks) ignores them for ports."""
    run_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(run_dir=run_dir, extra_env=dict(extra_env or {}))
    if settings:
        stack.ignored_settings = apply_settings(stack, settings)
    if pick_free_ports:
        stack.nats_port, stack.monitor_port = free_port(), free_port()
        stack.ports = {service: free_port() for service in SERVICES}
    stack.passwords = {service: secrets.token_urlsafe(18) for service in GRANTS}
    stack.admin_password = secrets.token_urlsafe(18)
    return stack


# --- settings from the environment and .env ---------------------------------------------------
def read_dotenv(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines of a .env file (comments, blank lines and ``export`` allowed; quotes stripped)."""
    out: dict[str, str] = {}
    if not path.is_file():
        return out
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key.strip()] = value
    return out


def settings_from_environment(environ: Mapping[str, str] | None = None, dotenv: Path | None = None) -> dict[str, str]:
    """Every ``AT_*`` setting of ``.env`` (repository root) and of the environment; the environment wins."""
    env = os.environ if environ is None else environ
    merged = {k: v for k, v in read_dotenv(ROOT / ".env" if dotenv is None else dotenv).items() if k.startswith("AT_")}
    merged.update({k: v for k, v in env.items() if k.startswith("AT_")})
    return merged


def _port(name: str, value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a port number") from None
    if not 0 < port < 65536:
        raise ValueError(f"{name}={port} is not a port number (1-65535)")
    return port


def apply_settings(stack: Stack, settings: Mapping[str, str]) -> list[str]:
    """Take ports and service settings from ``settings``; return the ones ignored, with why."""
    ignored: list[str] = []
    for key, value in settings.items():
        if key == NATS_PORT_VAR:
            stack.nats_port = _port(key, value)
            continue
        if key == MONITOR_PORT_VAR:
            stack.monitor_port = _port(key, value)
            continue
        if key.startswith("AT_STACK_"):
            ignored.append(f"{key} (not a setting of the stack; see tools/stack.py)")
            continue
        service = next((s for s, p in PREFIX.items() if key.startswith(p)), None)
        if service is not None and key == f"{PREFIX[service]}PORT":
            stack.ports[service] = _port(key, value)
            continue
        if service is not None and key.removeprefix(PREFIX[service]) in STACK_OWNED:
            ignored.append(f"{key} (the stack generates its NATS users)")
            continue
        stack.extra_env[key] = value
    return ignored


# --- ports ------------------------------------------------------------------------------------
def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something already listens on ``host:port`` (a bind as uvicorn and nats-server do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


class PortsInUse(RuntimeError):
    """Some of the stack's ports are taken (by another stack, often): the stack does not start."""

    def __init__(self, taken: dict[str, int]) -> None:
        self.taken = taken
        names = ", ".join(f"{what} :{port}" for what, port in taken.items())
        super().__init__(
            f"ports already in use: {names}. Another stack (`make up` in another terminal, or docker compose) "
            "may be running: stop it, or choose other ports, e.g. "
            "`AT_GATEWAY_PORT=9080 AT_AGENTS_PORT=9081 AT_EXEC_SIM_PORT=9082 AT_OBS_PORT=9083 "
            "AT_STACK_NATS_PORT=5222 AT_STACK_NATS_MONITOR_PORT=9222 make up` (or the same lines in .env)"
        )


def check_ports(stack: Stack) -> None:
    """Raise :class:`PortsInUse` naming every port of the stack something else listens on."""
    taken = {what: port for what, port in stack.all_ports().items() if port_in_use(port)}
    if taken:
        raise PortsInUse(taken)


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
    stack.env (one env file for every process of the stack); the admin's is in a file of its
    own that only the provisioning step (and the operator's at-replay) reads.
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
    env.update(stack.extra_env)
    for service in SERVICES:
        p = PREFIX[service]
        env[f"{p}NATS_URL"] = stack.nats_url
        env[f"{p}NATS_USER"] = service
        env[f"{p}NATS_PASSWORD"] = stack.passwords[service]
        env[f"{p}PORT"] = str(stack.ports[service])
        env.setdefault(f"{p}HOST", "127.0.0.1")
    path = stack.run_dir / "stack.env"
    write_private(path, "".join(f"{k}={v}\n" for k, v in sorted(env.items())))
    return path


def _get(url: str, timeout: float = 1.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback only
            return int(resp.status)
    except Exception:
        return 0


def wait_ready(stack: Stack, timeout: float = 90.0) -> dict[str, bool]:
    """Poll every service's /readyz until all answer 200 or the deadline passes; raise
    :class:`ProcessDied` at once when one of the stack's own processes exits meanwhile."""
    deadline = time.monotonic() + timeout
    ready = dict.fromkeys(SERVICES, False)
    while time.monotonic() < deadline and not all(ready.values()):
        if stack.processes is not None:
            stack.processes.check()
        for service in SERVICES:
            if not ready[service]:
                ready[service] = _get(stack.url(service, "/readyz")) == 200
        time.sleep(0.25)
    return ready


def stop(stack: Stack) -> None:
    """Stop every process of the stack, services first, nats-server last."""
    if stack.processes is not None:
        hung = stack.processes.stop_all()
        stack.processes = None
        for name in hung:  # said where the operator looks: a stop that needs SIGKILL is a bug to chase
            print(
                f"{name} did not stop within {STOP_GRACE_S:.0f}s of SIGTERM: killed (see {name}.log)", file=sys.stderr
            )


@contextlib.contextmanager
def running(stack: Stack, timeout: float = 90.0) -> Iterator[Stack]:
    """Refuse taken ports, start every process, wait for every /readyz, and always stop them."""
    check_ports(stack)
    stack.processes = Processes(stack)
    try:
        stack.processes.start_all()
        ready = wait_ready(stack, timeout)
        if not all(ready.values()):
            missing = ", ".join(s for s, ok in ready.items() if not ok)
            logs = "\n".join(
                f"--- {PROCESS[s]}.log\n{stack.processes.log(PROCESS[s], 15)}" for s, ok in ready.items() if not ok
            )
            raise RuntimeError(f"not ready within {timeout:.0f}s: {missing}; logs in {stack.run_dir}\n{logs}")
        yield stack
    finally:
        stop(stack)


def supervise(stack: Stack, poll_s: float = 0.5) -> None:
    """Watch the stack's processes by pid until one exits; then raise :class:`ProcessDied`."""
    assert stack.processes is not None, "supervise() inside running()"
    while True:
        stack.processes.check()
        time.sleep(poll_s)


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


def exit_description(returncode: int) -> str:
    """``exit code 3`` or ``killed by SIGKILL`` (a negative Popen returncode is a signal)."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


class ProcessDied(RuntimeError):
    """One of the stack's processes exited: which, its pid, how, and the end of its log."""

    def __init__(self, name: str, pid: int, returncode: int, log_file: Path, log_tail: str) -> None:
        self.name, self.pid, self.returncode, self.log_file = name, pid, returncode, log_file
        super().__init__(
            f"{name} (pid {pid}) exited: {exit_description(returncode)}. The stack is stopped.\n"
            f"last lines of {log_file}:\n{log_tail or '(empty)'}"
        )


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

    def pids(self) -> dict[str, int]:
        """Each running process's pid, by Procfile name."""
        return {name: proc.pid for name, proc in self.procs.items()}

    def check(self) -> None:
        """Raise :class:`ProcessDied` for the first process that has exited (by pid, not by port)."""
        for name, proc in self.procs.items():
            returncode = proc.poll()
            if returncode is not None:
                log_file = self.stack.run_dir / f"{name}.log"
                raise ProcessDied(name, proc.pid, returncode, log_file, self.log(name, 20))

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        self.signal_and_wait([name], sig)

    def signal_and_wait(self, names: list[str], sig: int, grace_s: float = STOP_GRACE_S) -> list[str]:
        """Send ``sig`` to each named process group at once, wait up to ``grace_s`` for them all,
        SIGKILL whoever is left; return the names that had to be killed."""
        procs = {name: proc for name in names if (proc := self.procs.pop(name, None)) is not None}
        for proc in procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
        deadline = time.monotonic() + grace_s
        hung: list[str] = []
        for name, proc in procs.items():
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:  # a shutdown that hangs must not outlive the stack
                hung.append(name)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            with contextlib.suppress(ProcessLookupError):  # what else the group holds (bash gone, its child not)
                os.killpg(proc.pid, signal.SIGKILL)
        return hung

    def stop_all(self) -> list[str]:
        """SIGTERM every service at once, then nats-server (the first process) once they are gone,
        so a stop takes one grace period, not one per process; return who had to be SIGKILLed."""
        names = list(self.procs)
        return self.signal_and_wait(names[1:], signal.SIGTERM) + self.signal_and_wait(names[:1], signal.SIGTERM)

    def log(self, name: str, lines: int = 40) -> str:
        return tail(self.stack.run_dir / f"{name}.log", lines)
