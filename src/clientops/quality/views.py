"""Data quality pages: the figures per field with their trends, recompute, and drill-down."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from clientops.auth import service as auth_service
from clientops.auth.deps import SessionDep, access
from clientops.core.access import Principal
from clientops.core.i18n import N_, get_locale, gettext
from clientops.core.web import hx_redirect, render
from clientops.customers import service as customers_service
from clientops.exceptions import InvalidInput, NotFound
from clientops.jobs import service as jobs_service
from clientops.quality import flows, service

router = APIRouter(prefix="/quality")

Reader = Annotated[Principal, Depends(access("quality:read"))]
FieldKey = Annotated[str, Path(max_length=70, pattern=r"^(customer|[a-z_]+|cf\.[a-z][a-z0-9_]*)$")]
Metric = Annotated[str, Path(pattern=r"^(empty|invalid|duplicate|stale)$")]

TREND_METRICS = (
    ("score", N_("Score"), 100.0),
    ("completeness", N_("Completeness"), 1.0),
    ("validity", N_("Validity"), 1.0),
    ("uniqueness", N_("Uniqueness"), 1.0),
    ("freshness", N_("Freshness"), 1.0),
    ("duplicates", N_("Duplicates"), 1.0),
)
METRIC_TITLES = {
    "empty": N_("customers without a value"),
    "invalid": N_("customers with an invalid value"),
    "duplicate": N_("customers sharing the value with another customer"),
    "stale": N_("customers not updated within the freshness window"),
}
RECORD_TITLES = {
    "duplicate": N_("customers sharing a phone, email or identity number with another customer"),
    "stale": N_("customers not updated within the freshness window"),
}
INVALID_RULES = {
    "name": N_("A name is stored trimmed, without runs of spaces."),
    "phone": N_("A phone is stored in international E.164 form, e.g. +8613800138000."),
    "email": N_("An email is stored in lower case, trimmed, as name@domain.tld."),
    "address": N_("An address is stored trimmed, without runs of spaces."),
    "province": N_("A Chinese place is the full name of a division (广东省, not 广东)."),
    "city": N_("A Chinese place is the full name of a division (深圳市, not 深圳)."),
    "district": N_("A Chinese place is the full name of a division (南山区)."),
    "birth_date": N_(
        "A birth date is not in the future nor before 1850, and is the one inside a valid "
        "identity number."
    ),
    "id_number": N_(
        "An identity number is stored in its 18-character form with a correct check code "
        "and a real birth date."
    ),
    "owner": N_("The owner is an active user."),
    "team": N_("The owner, when there is one, is a member of the team."),
    "lifecycle_stage": N_("The stage is one of the known lifecycle stages."),
}
CHART = {"width": 320, "height": 120, "left": 36, "right": 8, "top": 8, "bottom": 22}


def _fresh_days(request: Request, default: int) -> int:
    value = request.query_params.get("fresh_days", "")
    return int(value) if value.isdigit() and 1 <= int(value) <= 3650 else default


def _chart(points: list[tuple[date, float | None]], top: float) -> dict[str, Any]:
    """Coordinates of a line chart (inline SVG, no script) of ``points`` on a 0..top scale."""
    known = [(day, value) for day, value in points if value is not None]
    if not known:
        return {"empty": True}
    c = CHART
    inner_w = c["width"] - c["left"] - c["right"]
    inner_h = c["height"] - c["top"] - c["bottom"]
    first, last = known[0][0], known[-1][0]
    span = max((last - first).days, 1)
    dots = []
    for day, value in known:
        x = c["left"] + (inner_w * (day - first).days / span if len(known) > 1 else inner_w / 2)
        y = c["top"] + inner_h * (1 - min(max(value / top, 0.0), 1.0))
        dots.append({"x": round(x, 1), "y": round(y, 1), "day": day, "value": value})
    return {
        "empty": False,
        "line": " ".join(f"{d['x']},{d['y']}" for d in dots),
        "dots": dots,
        "first": first,
        "last": last,
        "latest": known[-1][1],
        "grid": [
            {"y": c["top"] + inner_h * (1 - share), "label": share * top} for share in (0, 0.5, 1)
        ],
        **c,
    }


def _trends(db: SessionDep, principal: Principal, field_key: str | None) -> list[dict[str, Any]]:
    snapshots = service.history(db=db, principal=principal, days=180)
    points = [service.trend_point(s, field_key) for s in snapshots]
    return [
        {
            "key": key,
            "title": title,
            "top": top,
            "chart": _chart([(p["day"], p[key]) for p in points], top),
        }
        for key, title, top in TREND_METRICS
        if field_key is None or key != "score"
    ]


@router.get("")
def quality_page(request: Request, db: SessionDep, principal: Reader) -> Response:
    """Completeness, validity, uniqueness and freshness per field, duplicates, the score and
    their trends, over the customers the user may see."""
    fresh_days = _fresh_days(request, service.DEFAULT_FRESH_DAYS)
    snapshot, live = service.current_figures(db=db, principal=principal, fresh_days=fresh_days)
    quality = service.to_read(db, snapshot, live=live, locale=get_locale())
    trend = request.query_params.get("trend") or None
    if trend and not any(row["field"] == trend for row in quality["fields"]):
        trend = None
    job_id = request.query_params.get("job", "")
    job = None
    if job_id.isdigit() and len(job_id) < 10:
        try:
            job = jobs_service.get_job(db=db, job_id=int(job_id))
        except NotFound:
            job = None
    context = {
        "q": quality,
        "trend": trend,
        "trend_label": next((r["label"] for r in quality["fields"] if r["field"] == trend), None),
        "trends": _trends(db, principal, trend),
        "metrics_of": service.metrics_of,
        "fd": {"fresh_days": quality["fresh_days"]},
        "job": job if job is not None and job.kind == flows.KIND else None,
        "scope_all": principal.sees_all,
        "live_limit": service.LIVE_LIMIT,
    }
    return render(request, "quality/page.html", context)


@router.post("/recompute")
async def recompute(request: Request, db: SessionDep, principal: Reader) -> Response:
    """Recompute the figures: at once for a small scope, else as a job shown on the page."""
    form = await request.form()
    raw = str(form.get("fresh_days") or service.DEFAULT_FRESH_DAYS).strip()
    if not raw.isdigit() or not 1 <= int(raw) <= 3650:
        raise InvalidInput({"fresh_days": "invalid"})
    _snapshot, job = flows.recompute(db=db, principal=principal, fresh_days=int(raw))
    query = {"fresh_days": raw, **({"job": str(job.id)} if job is not None else {})}
    return hx_redirect(request, "/quality?" + urlencode(query))


def _field_value(data: dict[str, Any], field_key: str, names: dict[str, dict[int, str]]) -> Any:
    """The value of the drilled-down field in a (masked) customer as the list shows it."""
    if field_key.startswith("cf."):
        return data["custom_fields"].get(field_key[3:])
    if field_key in ("owner", "team"):
        ref = data[f"{field_key}_id"]
        return names[field_key].get(ref, f"#{ref}") if ref is not None else None
    return data.get(field_key)


@router.get("/fields/{field}/{metric}")
def drill_down(
    request: Request, db: SessionDep, principal: Reader, field: FieldKey, metric: Metric
) -> Response:
    """The customers behind one figure, masked as in the customer list, in cursor pages."""
    fresh_days = _fresh_days(request, service.DEFAULT_FRESH_DAYS)
    cursor = request.query_params.get("cursor") or None
    rows, next_cursor = service.offenders(
        db=db,
        principal=principal,
        field_key=field,
        metric=metric,
        cursor=cursor,
        limit=50,
        fresh_days=fresh_days,
    )
    names = {
        "owner": {u.id: u.display_name or u.username for u in auth_service.list_users(db=db)},
        "team": {t.id: t.name for t in auth_service.list_teams(db=db)},
    }
    items = []
    for customer in rows:
        data = customers_service.to_read(customer, principal)
        items.append({**data, "value": _field_value(data, field, names)})
    titles = RECORD_TITLES if field == service.RECORD else METRIC_TITLES
    context = {
        "field": field,
        "metric": metric,
        "label": gettext(service.field_label(db, field, get_locale())),
        "title": titles.get(metric, METRIC_TITLES[metric]),
        "rows": items,
        "next_cursor": next_cursor,
        "has_cursor": bool(cursor),
        "base_qs": urlencode({"fresh_days": fresh_days}),
        "fresh_days": fresh_days,
        "rule": INVALID_RULES.get(field) if metric == "invalid" else None,
        "show_value": field not in (service.RECORD, "phone", "email"),  # shown anyway
    }
    return render(request, "quality/drill.html", context)
