"""The MCP endpoint (propose_trade places trades) needs an agent key; reads a key in production."""

from __future__ import annotations

import httpx
import pytest
from tests.helpers import serve

from at_agents.config import AgentsSettings
from at_agents.main import create_app
from at_core.service_kit import ApiKeyConfigError, Scope, dev_headers
from at_core.testing import NatsServer, free_port

pytestmark = pytest.mark.integration

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}
AGENT_OLD, AGENT_NEW, VIEW = "agent-2025-" + "a" * 20, "agent-2026-" + "b" * 20, "view-" + "c" * 20


async def test_an_anonymous_or_wrong_scope_mcp_call_never_reaches_the_tools(nats_server: NatsServer) -> None:
    port = free_port()
    server, task = await serve(create_app(AgentsSettings(nats_url=nats_server.url, port=port)), port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            anonymous = await http.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS)
            assert anonymous.status_code == 401 and anonymous.json()["reason"] == "bad_api_key"
            assert anonymous.headers["content-type"] == "application/problem+json"
            for scope in (Scope.OPERATOR, Scope.TRADER, Scope.VIEWER):
                refused = await http.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS | dev_headers(scope))
                assert (refused.status_code, refused.json()["reason"]) == (403, "insufficient_scope"), scope
            agent = await http.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS | dev_headers(Scope.AGENT))
            assert agent.status_code == 200, agent.text
            assert (await http.get("/decisions")).status_code == 200  # reads are open in dev
    finally:
        server.should_exit = True
        await task


async def test_in_production_both_rotated_agent_keys_work_and_reads_need_a_key(nats_server: NatsServer) -> None:
    port = free_port()
    keys = f"agent:{AGENT_OLD},agent:{AGENT_NEW},viewer:{VIEW}"
    settings = AgentsSettings(nats_url=nats_server.url, port=port, environment="production", api_keys=keys)
    server, task = await serve(create_app(settings), port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            for key in (AGENT_OLD, AGENT_NEW):
                auth = MCP_HEADERS | {"Authorization": f"Bearer {key}"}
                assert (await http.post("/mcp", json=INITIALIZE, headers=auth)).status_code == 200, key
            assert (await http.get("/decisions")).status_code == 401
            assert (await http.get("/decisions", headers={"Authorization": f"Bearer {VIEW}"})).status_code == 200
            assert (await http.get("/openapi.json")).status_code == 404
    finally:
        server.should_exit = True
        await task


def test_production_with_the_dev_keys_refuses_to_start() -> None:
    with pytest.raises(ApiKeyConfigError, match="production refuses the dev"):
        create_app(AgentsSettings(environment="production"))
