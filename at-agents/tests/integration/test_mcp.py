"""The MCP server: in process with the SDK's client, and over streamable HTTP at /mcp."""

from __future__ import annotations

import asyncio

import httpx2
import nats
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from tests.helpers import factory, serve, signal

from at_agents import bootstrap
from at_agents.api.mcp_server import NOTICE, build_mcp
from at_agents.config import AgentsSettings
from at_agents.main import create_app
from at_core import subjects
from at_core.serialization import decode_event
from at_core.service_kit import Scope, dev_headers
from at_core.testing import NatsServer, free_port

pytestmark = pytest.mark.integration


def _data(result) -> dict:  # type: ignore[no-untyped-def]
    assert not result.is_error, result
    body = result.structured_content
    assert body["notice"] == NOTICE  # outputs are marked as data, not instructions
    return body["data"]


async def test_propose_trade_publishes_one_proposal_per_idempotency_key(nats_server: NatsServer) -> None:
    svc = bootstrap.build(AgentsSettings(nats_url=nats_server.url, llm_cache_dir="unused"))
    await bootstrap.start(svc)
    nc = await nats.connect(nats_server.url)
    seen: list = []
    got = asyncio.Event()

    async def on(msg) -> None:  # type: ignore[no-untyped-def]
        seen.append(decode_event(msg.data))
        got.set()

    await nc.subscribe(subjects.TRADE_PROPOSALS, cb=on)
    await nc.flush()  # the server knows the subscription before anything is published (CI saw it miss)
    args = {
        "account_id": "paper-1",
        "instrument_id": "MES.CME",
        "side": "buy",
        "quantity": "1",
        "idempotency_key": "ext-agent-0001",
    }
    async with Client(build_mcp(svc)) as client:
        first = _data(await client.call_tool("propose_trade", args))
        again = _data(await client.call_tool("propose_trade", args))
        too_big = _data(
            await client.call_tool("propose_trade", {**args, "quantity": "50", "idempotency_key": "k-big-001"})
        )
        off_list = _data(
            await client.call_tool("propose_trade", {**args, "instrument_id": "NQ.CME", "idempotency_key": "k-nq-0001"})
        )
        live = _data(await client.call_tool("propose_trade", {**args, "paper": False, "idempotency_key": "k-live-01"}))
    await asyncio.wait_for(got.wait(), 5)
    assert first["accepted"] and again["duplicate"] and again["proposal_event_id"] == first["proposal_event_id"]
    assert not too_big["accepted"] and "cap" in too_big["reason"]
    assert not off_list["accepted"] and "allowlist" in off_list["reason"]
    assert not live["accepted"] and "live" in live["reason"]
    await nc.flush()
    assert [e.event_id for e in seen] == [first["proposal_event_id"]]
    assert seen[0].paper and seen[0].order.quantity == 1 and seen[0].committee == "mcp"
    await nc.close()
    await bootstrap.stop(svc)


async def test_read_tools_answer_over_streamable_http_after_a_signal(nats_server: NatsServer) -> None:
    port = free_port()
    app = create_app(AgentsSettings(nats_url=nats_server.url, port=port))
    server, task = await serve(app, port)
    sig = signal(factory())
    await app.state.service.on_signal(sig)
    agent_key = httpx2.AsyncClient(headers=dev_headers(Scope.AGENT), timeout=30)  # /mcp needs an agent key
    async with Client(streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=agent_key)) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        decisions = _data(await client.call_tool("last_decisions", {"instrument_id": "MES.CME"}))
        signals = _data(await client.call_tool("recent_signals", {"instrument_id": "MES.CME"}))
        account = _data(await client.call_tool("positions_and_account", {"account_id": "paper-1"}))
    assert names == {"recent_signals", "positions_and_account", "last_decisions", "propose_trade"}
    assert decisions[0]["signal_event_id"] == sig.event_id and len(decisions[0]["views"]) == 4
    assert signals[0]["signal_event_id"] == sig.event_id
    assert account["account_id"] == "paper-1"
    server.should_exit = True
    await task
