"""Typed request dependencies: the database session, the principal, access rules and CSRF."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from clientops.auth import service as auth_service
from clientops.config import current
from clientops.core import context, i18n, security
from clientops.core.access import Principal
from clientops.core.web import render
from clientops.db import transaction

SESSION_COOKIE = "__Host-clientops"
CSRF_COOKIE = "__Host-clientops-csrf"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class AuthRequired(Exception):
    """No valid session or token: the page redirects to sign-in, the API answers 401."""


class PermissionDenied(Exception):
    """Signed in but the role (or token scope) lacks the permission: 403."""


class CsrfFailed(Exception):
    """An unsafe request without the session's CSRF token: 403."""


def get_db(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on error."""
    request_id = getattr(request.state, "request_id", None) or uuid.uuid4().hex
    with transaction() as session:
        context.bind(session, actor=context.SYSTEM, request_id=request_id)
        request.state.db = session
        yield session


SessionDep = Annotated[Session, Depends(get_db, scope="function")]
"""The request's transaction, committed before the response is sent (FastAPI's default scope
would commit after it: a client could act on an answer whose write then failed)."""


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def load_principal(request: Request, db: Session) -> Principal | None:
    """The principal of a bearer token or a live session cookie, cached on the request."""
    if hasattr(request.state, "principal"):
        cached: Principal | None = request.state.principal
        return cached
    principal: Principal | None = None
    token = _bearer(request)
    if token:
        principal = auth_service.principal_for_token(db=db, token=token)
        request.state.via_token = True
    else:
        key = request.cookies.get(SESSION_COOKIE)
        row = auth_service.load_session(db=db, session_key=key) if key else None
        if row is not None:
            principal = auth_service.principal_of(row.user)
            request.state.csrf_token = row.csrf_token
    request.state.principal = principal
    i18n.set_locale(request_locale(request, principal))
    if principal is not None:
        context.bind(
            db,
            actor=context.Actor(principal.user_id, principal.username),
            request_id=context.request_id_of(db),
        )
    return principal


async def _check_csrf(request: Request) -> None:
    if request.method not in UNSAFE or getattr(request.state, "via_token", False):
        return
    expected = getattr(request.state, "csrf_token", None)
    sent = request.headers.get("x-csrf-token")
    if sent is None and "form" in request.headers.get("content-type", ""):
        value = (await request.form()).get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not security.same(expected, sent):
        raise CsrfFailed()


def access(permission: str | None) -> Callable[..., Any]:
    """A dependency that admits a signed-in principal holding ``permission`` (None: any)."""

    async def dependency(request: Request, db: SessionDep) -> Principal:
        principal = load_principal(request, db)
        if principal is None:
            raise AuthRequired()
        await _check_csrf(request)
        if permission is not None and not principal.can(permission):
            raise PermissionDenied()
        return principal

    dependency.access_rule = permission or "signed-in"  # type: ignore[attr-defined]
    return dependency


async def public(request: Request) -> None:
    """Marks a route that needs no sign-in (sign-in page, health); unsafe ones still need CSRF."""
    if request.method in UNSAFE:
        expected = request.cookies.get(CSRF_COOKIE)
        form = await request.form()
        sent = form.get("csrf_token")
        if not expected or not isinstance(sent, str) or not security.same(expected, sent):
            raise CsrfFailed()


public.access_rule = "public"  # type: ignore[attr-defined]


def render_public(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    """A page for someone not signed in (sign-in, a customer's survey) whose form ``public``
    will check: the anonymous CSRF token goes in the page and in its cookie."""
    token = request.cookies.get(CSRF_COOKIE) or security.new_token()
    request.state.anon_csrf = token
    response = render(request, name, context, status_code=status_code)
    response.set_cookie(CSRF_COOKIE, token, httponly=True, secure=True, samesite="strict", path="/")
    return response


def request_locale(request: Request, principal: Principal | None) -> str:
    """The interface language: the user's choice, else a cookie, else the browser's."""
    if principal is not None and principal.locale:
        return principal.locale
    chosen = request.cookies.get("clientops-lang")
    if chosen in ("en", "zh_CN"):
        return chosen
    header = request.headers.get("accept-language", "").lower()
    for part in header.split(","):
        tag = part.split(";")[0].strip()
        if tag.startswith("zh"):
            return "zh_CN"
        if tag.startswith("en"):
            return "en"
    return current().default_locale


Viewer = Annotated[Principal, Depends(access("customers:read"))]
SignedIn = Annotated[Principal, Depends(access(None))]
