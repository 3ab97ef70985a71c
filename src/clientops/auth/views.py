"""Sign-in, sign-out and the language switch."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from clientops.auth import service as auth_service
from clientops.auth.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    SessionDep,
    SignedIn,
    load_principal,
    public,
    render_public,
)
from clientops.core import i18n

router = APIRouter()
Public = Depends(public)


def _safe_next(target: str | None) -> str:
    parsed = urlparse(target or "")
    if target and target.startswith("/") and not parsed.netloc and not target.startswith("//"):
        return target
    return "/customers"


def _login_page(
    request: Request, *, error: str | None = None, status: int = 200, next_url: str = "/customers"
) -> Response:
    return render_public(
        request, "auth/login.html", {"error": error, "next": next_url}, status_code=status
    )


@router.get("/", dependencies=[Public])
def home(request: Request, db: SessionDep) -> Response:
    """The start page: customers when signed in, else the sign-in page."""
    target = "/customers" if load_principal(request, db) else "/login"
    return RedirectResponse(target, status_code=303)


@router.get("/healthz", dependencies=[Public])
def health() -> dict[str, str]:
    """Liveness probe."""
    return {"status": "ok"}


@router.get("/login", dependencies=[Public])
def login_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form."""
    return _login_page(request, next_url=_safe_next(next))


@router.post("/login", dependencies=[Public])
def login(
    request: Request,
    db: SessionDep,
    username: Annotated[str, Form(max_length=80)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=500)] = "/customers",
) -> Response:
    """Check the credentials, rotate the session and go on; throttled past the limit."""
    address = request.client.host if request.client else "unknown"
    if auth_service.throttled(db=db, keys=[f"user:{username}", f"ip:{address}"]):
        return _login_page(
            request,
            error=i18n.N_("Too many failed attempts. Try again later."),
            status=429,
            next_url=_safe_next(next),
        )
    user = auth_service.authenticate(db=db, username=username, password=password, address=address)
    if user is None:
        db.commit()  # the failure counts even though the answer is an error
        return _login_page(
            request,
            error=i18n.N_("Wrong username or password."),
            status=401,
            next_url=_safe_next(next),
        )
    key = auth_service.start_session(
        db=db, user=user, old_session_id=request.cookies.get(SESSION_COOKIE)
    )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, key, httponly=True, secure=True, samesite="lax", path="/")
    response.delete_cookie(CSRF_COOKIE, path="/", secure=True, httponly=True)
    return response


@router.post("/logout")
def logout(request: Request, db: SessionDep, _principal: SignedIn) -> Response:
    """End the session on the server and clear the cookie."""
    key = request.cookies.get(SESSION_COOKIE)
    if key:
        auth_service.end_session(db=db, session_key=key)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True)
    return response


@router.post("/language")
def switch_language(
    request: Request,
    db: SessionDep,
    principal: SignedIn,
    locale: Annotated[str, Form(max_length=10)],
    next: Annotated[str, Form(max_length=500)] = "/customers",
) -> Response:
    """Remember the user's interface language."""
    if locale not in i18n.LOCALES:
        locale = "en"
    auth_service.set_locale(db=db, user_id=principal.user_id, locale=locale)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie("clientops-lang", locale, secure=True, samesite="lax", path="/")
    return response


@router.get("/lang/{code}", dependencies=[Public])
def choose_language(code: str) -> Response:
    """Choose the language before signing in (kept in a cookie)."""
    response = RedirectResponse("/login", status_code=303)
    if code in i18n.LOCALES:
        response.set_cookie("clientops-lang", code, secure=True, samesite="lax", path="/")
    return response
