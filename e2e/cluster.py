"""A three-node NATS cluster with JetStream on loopback ports, and the services scaled out on it.

``NatsCluster`` is the bus alone. ``ClusterStack`` follows the README's production topology
on loopback: the same least-privilege users as the local stack on every node, streams and KV
buckets with 3 replicas, every service given all three URLs, gateways and agents as several
replicas (agents share their durable consumers), exec-sim as the single writer for the
account set it owns, and one recorder.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import nats

from at_core.metrics import MetricCatalog
from at_core.permissions import GRANTS, nats_server_config
from at_core.runtime.bus import EventBus
from at_core.runtime.provision import provision
from at_core.service_kit import Scope, dev_headers
from at_core.testing import NatsServer, free_port
from e2e.ledger import Ledger
from e2e.stack_harness import write_accounts
from tools import stack as stack_mod
from tools.demo import QUOTES, stack_env


@dataclass
class NatsCluster:
    """``size`` nats-server nodes routed to each other; ``config`` (users, accounts) goes to every node."""

    size: int = 3
    config: str = ""
    store_root: Path | None = None
    nodes: list[NatsServer] = field(default_factory=list)

    def start(self) -> NatsCluster:
        cluster_ports = [free_port() for _ in range(self.size)]
        client_ports = [free_port() for _ in range(self.size)]
        for i in range(self.size):
            routes = ", ".join(f'"nats-route://127.0.0.1:{p}"' for j, p in enumerate(cluster_ports) if j != i)
            config = f'cluster {{ name: "at-cluster", listen: "127.0.0.1:{cluster_ports[i]}", routes: [{routes}] }}\n'
            store = None
            if self.store_root is not None:
                store = self.store_root / f"n{i}"
                store.mkdir(parents=True, exist_ok=True)
            node = NatsServer(
                port=client_ports[i], store_dir=store, config=config + self.config, server_name=f"at-n{i}"
            )
            self.nodes.append(node.start())
        return self

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    def node(self, server_name: str) -> NatsServer:
        return next(n for n in self.nodes if n.server_name == server_name)

    async def wait_for_jetstream(
        self, timeout: float = 30.0, user: str | None = None, password: str | None = None
    ) -> None:
        """Wait until the JetStream meta leader is elected (account info answers)."""
        deadline = asyncio.get_running_loop().time() + timeout
        nc = await nats.connect(servers=self.urls, user=user, password=password)
        try:
            while True:
                try:
                    await nc.jetstream().account_info()
                    return
                except Exception:
                    if asyncio.get_running_loop().time() > deadline:
                        raise
                    await asyncio.sleep(0.2)
        finally:
            await nc.close()

    def close(self) -> None:
        for node in self.nodes:
            node.close()


#: Service of each replica kind, and the Procfile process that runs it.
DEDUP_WINDOW_S = 86_400.0  # the gateway's default dedup window
KINDS = {"gateway": "gateway", "agents": "agents", "exec_sim": "exec_sim", "obs": "recorder"}


@dataclass(frozen=True)
class Replica:
    """One service process: its kind (a key of :data:`KINDS`), replica number and HTTP port."""

    kind: str
    index: int
    port: int

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.index}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class ClusterStack:
    """The services, ``replicas[kind]`` processes each, against a three-node cluster."""

    def __init__(self, run_dir: Path, *, replicas: dict[str, int], accounts: int = 0) -> None:
        self.run_dir = run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        self.passwords = {service: secrets.token_urlsafe(18) for service in GRANTS}
        self.admin_password = secrets.token_urlsafe(18)
        users = nats_server_config(self.passwords, admin_password=self.admin_password)
        self.cluster = NatsCluster(config=users, store_root=run_dir / "nats")
        self.routes_file, self.accounts_file = write_accounts(run_dir, accounts)
        self.replicas = [Replica(kind, i, free_port()) for kind, n in replicas.items() for i in range(n)]
        self.commands = stack_mod.procfile_commands()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ledger: Ledger | None = None

    def of(self, kind: str) -> list[Replica]:
        return [r for r in self.replicas if r.kind == kind]

    def env(self, replica: Replica) -> dict[str, str]:
        """A replica's environment: every NATS URL, its own user, port, instance id and files."""
        prefix = stack_mod.PREFIX[replica.kind]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AT_")}
        env |= {"AT_STACK_BIN": str(stack_mod.BIN), "AT_STACK_DIR": str(self.run_dir), "PYTHONUNBUFFERED": "1"}
        env |= stack_env(self.run_dir, self.routes_file)
        env |= {
            f"{prefix}NATS_URL": ",".join(self.cluster.urls),
            f"{prefix}NATS_USER": replica.kind,
            f"{prefix}NATS_PASSWORD": self.passwords[replica.kind],
            f"{prefix}NATS_STREAM_REPLICAS": "3",
            f"{prefix}INSTANCE_ID": str(replica.index),
            f"{prefix}HOST": "127.0.0.1",
            f"{prefix}PORT": str(replica.port),
            "AT_GATEWAY_OUTBOX_PATH": str(self.run_dir / f"{replica.name}-outbox.sqlite3"),
            "AT_GATEWAY_RATE_LIMIT_PER_MINUTE": "100000",
            "AT_GATEWAY_ROUTE_RATE_LIMIT_PER_MINUTE": "100000",
            "AT_EXEC_SIM_ACCOUNTS_FILE": str(self.accounts_file),
        }
        return env

    async def start(self, timeout: float = 90) -> None:
        """Start the cluster, provision the streams and buckets at 3 replicas, start every replica."""
        try:
            self.cluster.start()
            await self.cluster.wait_for_jetstream(user="admin", password=self.admin_password)
            await self.provision()
            for replica in self.replicas:
                self.start_replica(replica)
            await self.wait_ready(timeout)
            self.ledger = await Ledger(self.cluster.urls, "admin", self.admin_password).connect()
        except BaseException:
            await self.stop()
            raise

    async def provision(self) -> None:
        """Streams, buckets and durables at 3 replicas, made by the provisioning step (admin) first;
        the services wait for its marker, then only bind to what it made."""
        bus = await EventBus.connect(
            self.cluster.urls,
            service="admin",
            metrics=MetricCatalog("admin").build(),
            user="admin",
            password=self.admin_password,
            initial_connect_deadline_s=10,
        )
        try:
            await provision(bus.js, replicas=3, dedup_window_s=DEDUP_WINDOW_S)
        finally:
            await bus.close()
        (self.run_dir / stack_mod.PROVISIONED_MARKER).touch()

    def start_replica(self, replica: Replica) -> None:
        log = (self.run_dir / f"{replica.name}.log").open("ab")
        self.procs[replica.name] = subprocess.Popen(
            ["bash", "-c", self.commands[KINDS[replica.kind]]],
            env=self.env(replica),
            cwd=stack_mod.ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    async def wait_ready(self, timeout: float = 90) -> None:
        """Poll every replica's /readyz; fail at once if one exited."""
        deadline = asyncio.get_running_loop().time() + timeout
        pending = {r.name: r for r in self.replicas}
        async with httpx.AsyncClient(timeout=1) as client:
            while pending and asyncio.get_running_loop().time() < deadline:
                for name, replica in sorted(pending.items()):
                    if self.procs[name].poll() is not None:
                        raise RuntimeError(f"{name} exited\n{self.log(name)}")
                    with contextlib.suppress(httpx.TransportError):
                        if (await client.get(f"{replica.url}/readyz")).status_code == 200:
                            del pending[name]
                if pending:
                    await asyncio.sleep(0.25)
        if pending:
            logs = "\n".join(f"--- {name}\n{self.log(name)}" for name in sorted(pending))
            raise RuntimeError(f"not ready within {timeout:.0f}s: {sorted(pending)}\n{logs}")

    async def seed_quotes(self) -> None:
        async with httpx.AsyncClient(base_url=self.of("gateway")[0].url, timeout=15) as http:
            resp = await http.post("/ingest/market-data", json={"items": QUOTES}, headers=dev_headers(Scope.TRADER))
            assert resp.status_code == 202, resp.text

    async def stream_leader(self, stream: str) -> str:
        """Server name of the node leading ``stream``."""
        nc = await nats.connect(servers=self.cluster.urls, user="admin", password=self.admin_password)
        try:
            info = await nc.jetstream().stream_info(stream)
            assert info.cluster is not None and info.cluster.leader, info
            return info.cluster.leader
        finally:
            await nc.close()

    async def consumer_leader(self, stream: str, durable: str) -> str:
        """Server name of the node leading a durable consumer."""
        nc = await nats.connect(servers=self.cluster.urls, user="admin", password=self.admin_password)
        try:
            info = await nc.jetstream().consumer_info(stream, durable)
            assert info.cluster is not None and info.cluster.leader, info
            return info.cluster.leader
        finally:
            await nc.close()

    async def lead_apart(self, stream: str, others: list[tuple[str, ...]], timeout: float = 30) -> str:
        """Step leaders down until ``stream``'s leader leads none of ``others`` (streams as
        ``(name,)``, consumers as ``(stream, durable)``); return ``stream``'s leader."""
        nc = await nats.connect(servers=self.cluster.urls, user="admin", password=self.admin_password)
        js = nc.jetstream()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout

        async def leader_of(item: tuple[str, ...]) -> str | None:
            info = await (js.stream_info(item[0]) if len(item) == 1 else js.consumer_info(*item))
            return info.cluster.leader if info.cluster else None

        try:
            while True:
                with contextlib.suppress(Exception):  # no leader for a moment after a step-down
                    leader = await leader_of((stream,))
                    shared = [item for item in others if await leader_of(item) in (leader, None)]
                    if leader and not shared:
                        return leader
                    for item in shared:
                        api = "STREAM.LEADER.STEPDOWN" if len(item) == 1 else "CONSUMER.LEADER.STEPDOWN"
                        await nc.request(f"$JS.API.{api}.{'.'.join(item)}", b"", timeout=5)
                if loop.time() > deadline:
                    raise TimeoutError(f"{stream} kept sharing a leader with one of {others}")
                await asyncio.sleep(0.5)
        finally:
            await nc.close()

    async def quiescent(self) -> bool:
        """Nothing left in flight: the gateways' outboxes are empty and the agents' signal and
        exec-sim's proposal consumers have nothing pending or unacknowledged."""
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                for gateway in self.of("gateway"):
                    if (await client.get(f"{gateway.url}/readyz")).json().get("outbox_depth") != 0:
                        return False
            nc = await nats.connect(servers=self.cluster.urls, user="admin", password=self.admin_password)
            try:
                js = nc.jetstream()
                for stream, durable in (("AT_SIGNALS", "agents-signals"), ("AT_DECISIONS", "exec-sim-proposals")):
                    info = await js.consumer_info(stream, durable)
                    if info.num_pending or info.num_ack_pending:
                        return False
            finally:
                await nc.close()
        except Exception:  # a node or a consumer mid-election: not known to be idle
            return False
        return True

    async def wait_settled(self, correlations: list[str], timeout: float) -> None:
        """Poll the ledger until every alert settled, or nothing is in flight any more (then what
        is missing is lost, not late), or ``timeout`` passes."""
        assert self.ledger is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            await self.ledger.refresh()
            if self.ledger.settled(correlations):
                return
            if await self.quiescent():
                await self.ledger.refresh()  # what was published before the last acks
                return
            await asyncio.sleep(0.25)

    def log(self, name: str, lines: int = 40) -> str:
        return stack_mod.tail(self.run_dir / f"{name}.log", lines)

    async def stop(self) -> None:
        """Stop every replica (SIGTERM, then SIGKILL), the ledger and the cluster."""
        if self.ledger is not None:
            await self.ledger.close()
        for proc in reversed(list(self.procs.values())):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()
        self.cluster.close()
