"""Every error is an RFC 9457 problem document, typed application/problem+json."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from at_core.service_kit import PROBLEM_JSON, ProblemError, install_problem_handlers, problem_body


class Order(BaseModel):
    quantity: int = Field(gt=0)
    note: str = Field(default="", max_length=8)


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/orders")
    async def orders(order: Order) -> dict[str, int]:
        return {"quantity": order.quantity}

    @app.get("/missing")
    async def missing() -> None:
        raise HTTPException(404, "unknown account acct-9")

    @app.get("/refused")
    async def refused() -> None:
        raise ProblemError(409, "already_halted", "the account is halted", headers={"Retry-After": "5"})

    @app.get("/bug")
    async def bug() -> None:
        raise RuntimeError("secret-in-message")

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def test_a_422_names_each_field_with_its_path_and_echoes_no_input(client: httpx.AsyncClient) -> None:
    resp = await client.post("/orders", json={"quantity": 0, "note": "x" * 50})
    assert resp.status_code == 422 and resp.headers["content-type"] == PROBLEM_JSON
    body = resp.json()
    assert body["type"] == "urn:at:problem:invalid" and body["status"] == 422 and body["instance"] == "/orders"
    assert body["title"] == "Unprocessable Content" and body["reason"] == "invalid"
    assert sorted(e["loc"] for e in body["errors"]) == [["body", "note"], ["body", "quantity"]]
    assert "x" * 50 not in resp.text


async def test_an_http_exception_keeps_its_status_and_detail(client: httpx.AsyncClient) -> None:
    resp = await client.get("/missing")
    assert resp.status_code == 404 and resp.headers["content-type"] == PROBLEM_JSON
    assert resp.json() == {
        "type": "urn:at:problem:not_found",
        "title": "Not Found",
        "status": 404,
        "detail": "unknown account acct-9",
        "reason": "not_found",
        "instance": "/missing",
    }


async def test_an_unknown_path_and_a_wrong_method_are_problems_too(client: httpx.AsyncClient) -> None:
    assert (await client.get("/nowhere")).json()["reason"] == "not_found"
    wrong = await client.get("/orders")
    assert wrong.status_code == 405 and wrong.json()["reason"] == "method_not_allowed"


async def test_a_problem_error_carries_its_reason_and_headers(client: httpx.AsyncClient) -> None:
    resp = await client.get("/refused")
    assert (resp.status_code, resp.json()["reason"], resp.headers["retry-after"]) == (409, "already_halted", "5")


async def test_a_bug_is_a_500_problem_that_does_not_leak_its_message(client: httpx.AsyncClient) -> None:
    resp = await client.get("/bug")
    assert resp.status_code == 500 and resp.json()["reason"] == "internal"
    assert "secret-in-message" not in resp.text


def test_extension_members_never_replace_the_standard_ones() -> None:
    body = problem_body(400, "bad", "d", extra={"status": "rejected", "event_id": "E1"})
    assert body["status"] == 400 and body["event_id"] == "E1"
