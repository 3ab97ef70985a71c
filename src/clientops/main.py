"""The application factory: routers, middleware, static files, error pages, job runtime."""

from __future__ import annotations

import gc
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from clientops import (
    db,
    registry,  # noqa: F401 - every model mapped before the first query
)
from clientops.analytics import api as analytics_api
from clientops.analytics import views as analytics_views
from clientops.audit import service as audit_service
from clientops.audit import views as audit_views
from clientops.auth import api as auth_api
from clientops.auth import views as auth_views
from clientops.auth.deps import AuthRequired, CsrfFailed, PermissionDenied, request_locale
from clientops.config import Settings, current
from clientops.core import i18n
from clientops.core.web import STATIC_DIR, render
from clientops.customers import api as customers_api
from clientops.customers import views as customers_views
from clientops.events import api as events_api
from clientops.events import views as events_views
from clientops.exceptions import Conflict, Forbidden, InvalidInput, NotFound
from clientops.identity import api as identity_api
from clientops.identity import views as identity_views
from clientops.imports import api as imports_api
from clientops.imports import views as imports_views
from clientops.jobs import views as jobs_views
from clientops.projects import api as projects_api
from clientops.projects import survey_views as projects_survey_views
from clientops.projects import views as projects_views
from clientops.quality import api as quality_api
from clientops.quality import views as quality_views

GC_THRESHOLDS = (20_000, 50, 100)
"""Cyclic GC thresholds while serving (CPython's defaults are 700, 10, 10)."""
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


# Every router of the app; the route × role test walks these.
ROUTERS = (
    auth_views.router,
    auth_api.router,
    auth_api.docs_router,
    customers_views.router,
    customers_views.fields_router,
    customers_api.router,
    audit_views.router,
    jobs_views.router,
    imports_views.router,
    imports_api.router,
    events_views.router,
    events_api.router,
    identity_views.router,
    identity_api.router,
    quality_views.router,
    quality_api.router,
    projects_views.router,
    projects_api.router,
    projects_api.resources_router,
    projects_api.survey_router,
    projects_survey_views.router,
    analytics_views.router,
    analytics_api.router,
)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error(request: Request, status: int, code: str, detail: object = None) -> Response:
    if _is_api(request):
        return JSONResponse({"error": code, "detail": detail}, status_code=status)
    message = {
        401: i18n.N_("Please sign in."),
        403: i18n.N_("You are not allowed to do this."),
        404: i18n.N_("Not found."),
        409: i18n.N_("This conflicts with existing data."),
        422: i18n.N_("Please correct the input."),
    }.get(status, i18n.N_("Error."))
    return render(request, "error.html", {"status": status, "message": message}, status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    async def auth_required(request: Request, _exc: Exception) -> Response:
        if _is_api(request):
            return _error(request, 401, "authentication_required")
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    async def forbidden(request: Request, _exc: Exception) -> Response:
        return _error(request, 403, "forbidden")

    async def csrf(request: Request, _exc: Exception) -> Response:
        return _error(request, 403, "csrf_failed")

    async def not_found(request: Request, _exc: Exception) -> Response:
        return _error(request, 404, "not_found")

    async def invalid(request: Request, exc: Exception) -> Response:
        errors = getattr(exc, "errors", {})
        return _error(request, 409 if isinstance(exc, Conflict) else 422, "invalid_input", errors)

    async def validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return _error(request, 422, "invalid_input", detail)

    app.add_exception_handler(AuthRequired, auth_required)
    app.add_exception_handler(PermissionDenied, forbidden)
    app.add_exception_handler(Forbidden, forbidden)
    app.add_exception_handler(CsrfFailed, csrf)
    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(InvalidInput, invalid)
    app.add_exception_handler(Conflict, invalid)
    app.add_exception_handler(RequestValidationError, validation)


def _install_middleware(app: FastAPI, settings: Settings) -> None:
    @app.middleware("http")
    async def request_context(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request.state.request_id = request.headers.get("x-request-id", "")[:64] or uuid.uuid4().hex
        i18n.set_locale(request_locale(request, None))
        response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        if not request.url.path.startswith("/api/docs"):
            response.headers.setdefault("Content-Security-Policy", CSP)
        if settings.https or request.url.scheme == "https":
            response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        return response


def create_app(settings: Settings | None = None, *, start_jobs: bool | None = None) -> FastAPI:
    """The clientops web application."""
    settings = settings or current()
    run_jobs = settings.jobs_enabled if start_jobs is None else start_jobs
    audit_service.install()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        db.optimize()
        if run_jobs:
            from clientops.jobs import flows

            flows.start(settings)
        # What exists after start-up lives as long as the server: keep it out of the cyclic
        # garbage collector's way, and collect young objects less often (fewer pauses).
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        yield
        if run_jobs:
            from clientops.jobs import flows

            flows.stop()
        db.optimize()

    app = FastAPI(
        title="clientops",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in ROUTERS:
        app.include_router(router)
    _install_error_handlers(app)
    _install_middleware(app, settings)
    return app
