"""Sign in with a role key, sign out."""

from __future__ import annotations

import secrets
import time
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from at_core.runtime.logging import get_logger
from at_obs.api.console.deps import COOKIE, ConsoleDep, templates
from at_obs.domain.console.auth import Role, issue_session, role_for_key

router = APIRouter()
log = get_logger("at_obs.console")
MAX_KEY_CHARS = 512


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, error: str = "") -> Response:
    """The sign-in form."""
    return templates.TemplateResponse(request, "login.html", {"error": error})


@router.post("/login")
async def login(request: Request, console: ConsoleDep, key: Annotated[str, Form(max_length=MAX_KEY_CHARS)]) -> Response:
    """Exchange an operator, trader or viewer key for a signed session cookie."""
    s = console.settings
    remote = request.client.host if request.client else ""
    if not console.logins.allowed(remote, time.monotonic()):
        log.warning("console_login_throttled", remote=remote)
        console.count("console_logins_total", "throttled")
        error = "Too many wrong keys: wait a minute."
        return templates.TemplateResponse(request, "login.html", {"error": error}, status_code=429)
    keys = {Role(name): value for name, value in s.role_keys().items()}
    role = role_for_key(key, keys)
    if role is None:
        console.logins.failed(remote, time.monotonic())
        log.warning("console_login_refused", remote=remote)
        console.count("console_logins_total", "refused")
        return templates.TemplateResponse(request, "login.html", {"error": "That key is not valid."}, status_code=401)
    session = issue_session(
        s.console_session_secret.get_secret_value(), role, int(time.time()), s.console_session_ttl_s,
        secrets.token_hex(8),
    )  # fmt: skip
    log.info("console_login", role=role.value)
    console.count("console_logins_total", "ok")
    resp = RedirectResponse("/console/accounts", status_code=303)
    resp.set_cookie(
        COOKIE,
        session.token,
        max_age=s.console_session_ttl_s,
        httponly=True,
        samesite="strict",
        secure=s.environment == "production",
        path="/console",
    )
    return resp


@router.post("/logout")
async def logout() -> Response:
    """Drop the session cookie."""
    resp = RedirectResponse("/console/login", status_code=303)
    resp.delete_cookie(COOKIE, path="/console")
    return resp
