"""Scale-out on a three-node NATS cluster: replicated streams, then the services as replicas, lose a node."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from at_core import subjects
from at_core.events import Event
from at_core.metrics import MetricCatalog
from at_core.runtime.bus import Delivery, EventBus
from at_core.testing import all_examples
from e2e.cluster import ClusterStack, NatsCluster
from e2e.stack_harness import account_secret, alert

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture
async def cluster():
    c = NatsCluster().start()
    await c.wait_for_jetstream()
    yield c
    c.close()


async def test_replicated_streams_lose_nothing_when_a_node_dies(cluster: NatsCluster) -> None:
    bus = await EventBus.connect(
        cluster.urls, service="gateway", metrics=MetricCatalog("gateway").build(), create_consumers=True
    )
    await bus.ensure_streams(replicas=3)
    info = await bus.js.stream_info("AT_EXECUTION")
    assert info.config.num_replicas == 3

    received: dict[str, Event] = {}
    done = asyncio.Event()
    examples = [e for e in all_examples() if subjects.stream_for_subject(subjects.subject_for(e)) is not None]

    # Two consumers on one durable share the work, like two replicas of a service.
    async def handler(event: Event, delivery: Delivery) -> None:
        received[event.event_id] = event
        if len(received) == len(examples):
            done.set()

    streams = {subjects.stream_for_subject(subjects.subject_for(e)).name for e in examples}
    for stream in streams:
        spec = next(s for s in subjects.STREAMS if s.name == stream)
        for _ in range(2):
            await bus.consume(
                spec.subjects[0] if len(spec.subjects) == 1 else f"{subjects.ROOT}.>",
                handler,
                durable=f"replicas-{stream}",
                stream=stream,
            )

    half = len(examples) // 2
    for event in examples[:half]:
        await bus.publish(event)
    cluster.nodes[0].stop(kill=True)  # lose a node mid-stream
    for event in examples[half:]:
        for attempt in range(40):  # a leader election can take a moment: retry, JetStream de-duplicates
            try:
                await bus.publish(event, timeout=1.0)
                break
            except Exception:
                if attempt == 39:
                    raise
                await asyncio.sleep(0.25)
    await asyncio.wait_for(done.wait(), 60)
    assert set(received) == {e.event_id for e in examples}
    await bus.close()


# --- the services scaled out on the cluster ------------------------------------------------

ALERTS = 60
SCALE = {"gateway": 2, "agents": 2, "exec_sim": 1, "obs": 1}
#: What must keep working for alerts to reach exec-sim: the input streams and both services' consumers.
UPSTREAM = [
    ("AT_SIGNALS",),
    ("AT_DECISIONS",),
    ("AT_SIGNALS", "agents-signals"),
    ("AT_DECISIONS", "exec-sim-proposals"),
]


@pytest.fixture
async def scaled(tmp_path: Path):
    stack = ClusterStack(tmp_path / "cluster", replicas=SCALE, accounts=ALERTS)
    await stack.start()
    yield stack
    await stack.stop()


@pytest.mark.parametrize("victim", ["follower", "leader"])
async def test_scaled_out_services_lose_and_double_nothing_when_a_nats_node_dies(
    scaled: ClusterStack, victim: str
) -> None:
    """Two gateways, two agents on shared durables, exec-sim as the one writer of its accounts,
    every stream at 3 replicas; a node is killed while alerts stream in: one that leads neither
    AT_EXECUTION nor exec-sim's proposal consumer, or the one leading AT_EXECUTION."""
    assert scaled.ledger is not None
    await scaled.seed_quotes()
    # Before any alert: AT_EXECUTION (where exec-sim writes) led by a node that leads nothing
    # upstream, so that losing it leaves proposals flowing to exec-sim while their outputs wait
    # for a new leader: the window a lost node opens for a writer.
    leader = await scaled.lead_apart("AT_EXECUTION", UPSTREAM)
    gateways = [httpx.AsyncClient(base_url=g.url, timeout=30) for g in scaled.of("gateway")]
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def post(i: int) -> str:
        await asyncio.sleep(max(0.0, start + i * 0.1 - loop.time()))  # 10 alerts/s, both gateways
        resp = await gateways[i % 2].post(
            f"/webhooks/tradingview/{account_secret(i)}", content=alert(i, long=i % 2 == 0)
        )
        assert resp.status_code == 202, resp.text
        return str(resp.json()["correlation_id"])

    try:
        posting = asyncio.gather(*(post(i) for i in range(ALERTS)))
        # mid-stream: once some alerts have filled orders and most are still to come
        assert await scaled.ledger.wait_until(lambda ledger: _filled_orders(ledger) >= 10, timeout=60), "no fills"
        killed = leader if victim == "leader" else await _a_follower(scaled, leader)
        scaled.cluster.node(killed).stop(kill=True)
        correlations = list(await posting)
    finally:
        for client in gateways:
            await client.aclose()
    assert _filled_orders(scaled.ledger) < ALERTS, "the node died after the stream, not in the middle of it"

    await scaled.wait_settled(correlations, timeout=180)
    bad = scaled.ledger.not_exactly_one_filled_order(correlations)
    assert not bad, f"{len(bad)} of {ALERTS} alerts after losing {killed}: {dict(list(bad.items())[:5])}"

    # The agents shared the signals' durable: every alert was decided, each replica took a part.
    decided: dict[str, set[str]] = {}
    for replica in scaled.of("agents"):
        async with httpx.AsyncClient(base_url=replica.url, timeout=15) as http:
            rows = (await http.get("/decisions", params={"limit": 10_000})).json()
        decided[replica.name] = {row["correlation_id"] for row in rows}
    assert set(correlations) <= set().union(*decided.values())
    assert all(decided.values()), {name: len(ids) for name, ids in decided.items()}


async def _a_follower(scaled: ClusterStack, leader: str) -> str:
    """A node that leads neither AT_EXECUTION nor exec-sim's proposal consumer."""
    proposals_leader = await scaled.consumer_leader("AT_DECISIONS", "exec-sim-proposals")
    return next(n.server_name for n in scaled.cluster.nodes if n.server_name not in (leader, proposals_leader))


def _filled_orders(ledger) -> int:
    return sum(1 for c in list(ledger.by_correlation) if ledger.filled(c))
