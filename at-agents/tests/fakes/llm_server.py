"""A loopback HTTP server speaking the OpenAI chat-completions and Anthropic messages APIs.

Each request takes the next scripted reply; every request body is kept for assertions. The real
SDK clients (through pydantic-ai) talk to it, so the wire format is exercised, not mocked.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from at_core.testing import free_port


@dataclass
class Reply:
    """One scripted answer: a structured view (sent the way the request asked), raw text, or an HTTP error."""

    view: dict[str, Any] | None = None
    text: str | None = None
    reasoning: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    reject_tool_choice: bool = False


@dataclass
class FakeLlm:
    url: str
    script: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)


def _usage() -> dict[str, int]:
    return {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}


def _openai(body: dict[str, Any], r: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None}
    if r.text is not None:
        message["content"] = r.text
    elif body.get("tools"):
        name = body["tools"][0]["function"]["name"]
        message["tool_calls"] = [
            {"id": "call_1", "type": "function", "function": {"name": name, "arguments": json.dumps(r.view)}}
        ]
    else:
        message["content"] = json.dumps(r.view)
    if r.reasoning is not None:
        message["reasoning_content"] = r.reasoning
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": body["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": _usage(),
    }


def _anthropic(body: dict[str, Any], r: Reply) -> dict[str, Any]:
    if r.text is not None or not body.get("tools"):
        content = [{"type": "text", "text": r.text if r.text is not None else json.dumps(r.view)}]
    else:
        content = [{"type": "tool_use", "id": "toolu_1", "name": body["tools"][0]["name"], "input": r.view}]
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 100, "output_tokens": 20},
    }


@asynccontextmanager
async def fake_llm_server() -> AsyncIterator[FakeLlm]:
    app = FastAPI()
    port = free_port()
    fake = FakeLlm(url=f"http://127.0.0.1:{port}")

    async def answer(request: Request, render: Any) -> JSONResponse:
        body = await request.json()
        fake.requests.append(body)
        reply = fake.script.pop(0) if fake.script else Reply(status=500)
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)  # the server is slow: that is what is under test
        if reply.reject_tool_choice and "tool_choice" in body:
            return JSONResponse({"error": {"message": "does not support this tool_choice"}}, 400)
        if reply.status != 200:
            return JSONResponse({"error": {"message": f"status {reply.status}"}}, reply.status, headers=reply.headers)
        return JSONResponse(render(body, reply))

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        return await answer(request, _openai)

    @app.post("/v1/messages")
    async def messages(request: Request) -> JSONResponse:
        return await answer(request, _anthropic)

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):  # the server binds its socket in the background: wait for that, not a message
        if server.started:
            break
        await asyncio.sleep(0.01)
    try:
        yield fake
    finally:
        server.should_exit = True
        await task
