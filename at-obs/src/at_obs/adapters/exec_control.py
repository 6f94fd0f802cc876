"""exec-sim's control API (kill switch, resume), called by the console on an operator's behalf."""

from __future__ import annotations

from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class ControlResult:
    ok: bool
    status: int
    detail: str


async def call_control(
    client: httpx.AsyncClient, base_url: str, action: str, account_id: str, api_key: str | None
) -> ControlResult:
    """POST ``/kill-switch`` or ``/resume`` for one account; any failure is a result, never an exception."""
    path = {"kill_switch": "/kill-switch", "resume": "/resume"}[action]
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        resp = await client.post(base_url.rstrip("/") + path, json={"account_id": account_id}, headers=headers)
    except httpx.HTTPError as exc:
        return ControlResult(False, 0, f"exec-sim did not answer: {type(exc).__name__}")
    detail = resp.text[:300]
    try:
        body = resp.json()
        detail = str(body.get("status") or body.get("detail") or detail) if isinstance(body, dict) else detail
    except ValueError:
        pass
    return ControlResult(resp.status_code == 200, resp.status_code, detail)
