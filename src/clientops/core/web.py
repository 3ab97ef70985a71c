"""Server-rendered pages: the Jinja2 environment, rendering with the request's context, HTMX."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader

from clientops.core import i18n

PACKAGE = Path(__file__).resolve().parent.parent
STATIC_DIR = PACKAGE / "web" / "static"


def _loader() -> ChoiceLoader:
    folders = [PACKAGE / "web" / "templates"]
    folders += sorted(p for p in PACKAGE.glob("*/templates") if p.is_dir())
    return ChoiceLoader([FileSystemLoader(str(folder)) for folder in folders])


_env = Environment(loader=_loader(), autoescape=True, extensions=["jinja2.ext.i18n"])
_env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
templates = Jinja2Templates(env=_env)


def _datetime(value: datetime | None, style: str = "medium") -> str:
    if value is None:
        return ""
    return i18n.fmt().datetime(value, style)


def _date(value: datetime | None) -> str:
    return "" if value is None else i18n.fmt().date(value, "medium")


def _money(value: Decimal | float | None, currency: str = "CNY") -> str:
    return "" if value is None else i18n.fmt().currency(value, currency)


def _number(value: int | float | None) -> str:
    return "" if value is None else i18n.fmt().number(value)


templates.env.filters.update(datetime=_datetime, date=_date, money=_money, number=_number)


def is_htmx(request: Request) -> bool:
    """True for a request made by HTMX (it wants a fragment, not a whole page)."""
    return request.headers.get("hx-request") == "true"


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
    fragment: str | None = None,
) -> HTMLResponse:
    """A page, or ``fragment`` when HTMX asked, with the request's locale, user and CSRF token."""
    data = {
        "request": request,
        "principal": getattr(request.state, "principal", None),
        "csrf_token": getattr(request.state, "csrf_token", "")
        or getattr(request.state, "anon_csrf", ""),
        "locale": i18n.get_locale(),
        "locale_names": i18n.LOCALE_NAMES,
        **(context or {}),
    }
    template = fragment if fragment and is_htmx(request) else name
    response: HTMLResponse = templates.TemplateResponse(
        request, template, data, status_code=status_code
    )
    return response


def hx_redirect(request: Request, url: str) -> Response:
    """After a successful save: ``HX-Location`` for HTMX, a 303 redirect otherwise."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Location": url})
    return Response(status_code=303, headers={"Location": url})
