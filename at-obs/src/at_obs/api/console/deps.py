"""Console dependencies: its state, the signed-in session, the role a route needs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from at_obs.api.console.format import register_filters
from at_obs.api.console.state import ConsoleState
from at_obs.domain.console.auth import RANK, Role, Session, csrf_token, read_session

COOKIE = "at_console"
templates = register_filters(Jinja2Templates(directory=str(Path(__file__).parent / "templates")))


class NotSignedIn(Exception):
    """No valid session: pages redirect to the sign-in form, the stream answers 401."""


class Forbidden(Exception):
    """Signed in, but the role may not do this."""

    def __init__(self, role: Role, needed: Role) -> None:
        super().__init__(f"{role.value} may not do this ({needed.value} needed)")
        self.role, self.needed = role, needed


def get_console(request: Request) -> ConsoleState:
    return request.app.state.console


ConsoleDep = Annotated[ConsoleState, Depends(get_console)]


def get_session(request: Request, console: ConsoleDep) -> Session:
    token = request.cookies.get(COOKIE, "")
    secret = console.settings.console_session_secret.get_secret_value()
    session = read_session(secret, token, int(time.time())) if token else None
    if session is None:
        raise NotSignedIn
    return session


SessionDep = Annotated[Session, Depends(get_session)]


def require_operator(session: SessionDep) -> Session:
    if RANK[session.role] < RANK[Role.OPERATOR]:
        raise Forbidden(session.role, Role.OPERATOR)
    return session


OperatorDep = Annotated[Session, Depends(require_operator)]


def page_context(request: Request, console: ConsoleState, session: Session, **extra: object) -> dict[str, object]:
    """What every page template gets: the request, the role, a CSRF token, and the page's own values."""
    secret = console.settings.console_session_secret.get_secret_value()
    return {
        "request": request,
        "role": session.role.value,
        "is_operator": session.role == Role.OPERATOR,
        "csrf": csrf_token(secret, session),
        "loaded": console.loaded,
        **extra,
    }
