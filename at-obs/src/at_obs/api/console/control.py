"""The kill switch and resume buttons: operator only, CSRF-checked, forwarded to exec-sim."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from at_core.runtime.logging import get_logger
from at_obs.adapters.exec_control import call_control
from at_obs.api.console.deps import ConsoleDep, OperatorDep, SessionDep, page_context, templates
from at_obs.domain.console.auth import csrf_ok

router = APIRouter()
log = get_logger("at_obs.console")
Action = Literal["kill_switch", "resume"]
ACCOUNT_ID = r"^[A-Za-z0-9_.:-]{1,64}$"


@router.get("/accounts/{account_id}/confirm", response_class=HTMLResponse)
async def confirm(
    request: Request, console: ConsoleDep, session: SessionDep, account_id: str, action: Action
) -> Response:
    """The confirmation step before a kill switch or a resume."""
    if account_id not in console.ledger.accounts:
        raise HTTPException(404, f"unknown account {account_id}")
    ctx = page_context(request, console, session, account_id=account_id, action=action, page="accounts")
    return templates.TemplateResponse(request, "confirm.html", ctx)


@router.post("/control/{action}")
async def control(
    request: Request,
    console: ConsoleDep,
    session: OperatorDep,
    action: Action,
    account_id: Annotated[str, Form(pattern=ACCOUNT_ID)],
    csrf: Annotated[str, Form(max_length=128)],
) -> Response:
    """Halt (kill switch) or resume one account through exec-sim's control API."""
    secret = console.settings.console_session_secret.get_secret_value()
    if not csrf_ok(secret, session, csrf):
        console.count("console_controls_total", action, "csrf")
        raise HTTPException(403, "the form's CSRF token does not match this session: reload the page")
    key = console.settings.exec_sim_api_key
    result = await call_control(
        console.http, console.settings.exec_sim_url, action, account_id, key.get_secret_value() if key else None
    )
    log.info("console_control", action=action, account_id=account_id, ok=result.ok, status=result.status)
    console.count("console_controls_total", action, "ok" if result.ok else "refused")
    notice = f"{action} {account_id}: " + (
        "done" if result.ok else f"refused by exec-sim ({result.status} {result.detail})"
    )
    return RedirectResponse(f"/console/accounts?notice={quote(notice)}", status_code=303)
