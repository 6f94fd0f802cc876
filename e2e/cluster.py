"""A three-node NATS cluster with JetStream on loopback ports, for scale-out and failover tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import nats

from at_core.testing import NatsServer, free_port


@dataclass
class NatsCluster:
    size: int = 3
    nodes: list[NatsServer] = field(default_factory=list)

    def start(self) -> NatsCluster:
        cluster_ports = [free_port() for _ in range(self.size)]
        client_ports = [free_port() for _ in range(self.size)]
        for i in range(self.size):
            routes = ", ".join(f'"nats-route://127.0.0.1:{p}"' for j, p in enumerate(cluster_ports) if j != i)
            config = f'cluster {{ name: "at-cluster", listen: "127.0.0.1:{cluster_ports[i]}", routes: [{routes}] }}\n'
            node = NatsServer(port=client_ports[i], config=config, server_name=f"at-n{i}")
            self.nodes.append(node.start())
        return self

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    async def wait_for_jetstream(self, timeout: float = 30.0) -> None:
        """Wait until the JetStream meta leader is elected (account info answers)."""
        deadline = asyncio.get_running_loop().time() + timeout
        nc = await nats.connect(servers=self.urls)
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
