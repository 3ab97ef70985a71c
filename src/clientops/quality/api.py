"""Data quality JSON API: /api/v1/quality, its trend, recompute, and drill-down to customers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from clientops.auth.deps import SessionDep, access
from clientops.core.access import Principal
from clientops.core.i18n import get_locale
from clientops.core.types import ERROR_RESPONSES, Cursor, Limit
from clientops.customers import service as customers_service
from clientops.customers.schemas import CustomerPage
from clientops.quality import flows, service
from clientops.quality.schemas import QualityRead, RecomputeRead, TrendPoint

router = APIRouter(prefix="/api/v1/quality", tags=["quality"], responses=ERROR_RESPONSES)

Reader = Annotated[Principal, Depends(access("quality:read"))]
FreshDays = Annotated[
    int | None,
    Query(ge=1, le=3650, description="Freshness window in days (default 365)."),
]
FieldKey = Annotated[
    str,
    Path(
        max_length=70,
        pattern=r"^(customer|[a-z_]+|cf\.[a-z][a-z0-9_]*)$",
        description="A field key (name, phone, email, address, province, city, district, "
        "birth_date, id_number, owner, team, lifecycle_stage, cf.<key>) or `customer`.",
    ),
]
Metric = Annotated[
    str,
    Path(
        pattern=r"^(empty|invalid|duplicate|stale)$",
        description="empty, invalid, duplicate (value shared with another customer; for "
        "`customer`: shares a phone, email or identity number) or stale.",
    ),
]


@router.get("", response_model=QualityRead)
def read_quality(db: SessionDep, principal: Reader, fresh_days: FreshDays = None) -> Any:
    """The data quality figures over the customers the caller may see."""
    snapshot, live = service.current_figures(db=db, principal=principal, fresh_days=fresh_days)
    return service.to_read(db, snapshot, live=live, locale=get_locale())


@router.get("/trend", response_model=list[TrendPoint])
def read_trend(
    db: SessionDep,
    principal: Reader,
    days: Annotated[int, Query(ge=1, le=3650)] = 90,
    field: Annotated[str | None, Query(max_length=70)] = None,
) -> Any:
    """One point per day with a snapshot: the score, the dimensions, the duplicates' share."""
    snapshots = service.history(db=db, principal=principal, days=days)
    return [service.trend_point(s, field) for s in snapshots]


@router.post("/recompute", response_model=RecomputeRead)
def recompute(
    response: Response, db: SessionDep, principal: Reader, fresh_days: FreshDays = None
) -> Any:
    """Recompute now: at once for up to 20,000 customers (200), else as a job (202)."""
    snapshot, job = flows.recompute(
        db=db, principal=principal, fresh_days=fresh_days or service.DEFAULT_FRESH_DAYS
    )
    if job is not None:
        response.status_code = 202
        return {"computed": False, "job_id": job.id, "quality": None}
    quality = service.to_read(db, snapshot, live=True, locale=get_locale())
    return {"computed": True, "job_id": None, "quality": quality}


@router.get("/fields/{field}/{metric}/customers", response_model=CustomerPage)
def offending_customers(
    db: SessionDep,
    principal: Reader,
    field: FieldKey,
    metric: Metric,
    cursor: Cursor = None,
    limit: Limit = 25,
    fresh_days: FreshDays = None,
) -> Any:
    """The customers behind a figure (masked as in the customer list), in cursor pages."""
    rows, next_cursor = service.offenders(
        db=db,
        principal=principal,
        field_key=field,
        metric=metric,
        cursor=cursor,
        limit=limit,
        fresh_days=fresh_days or service.DEFAULT_FRESH_DAYS,
    )
    items = [customers_service.to_read(c, principal) for c in rows]
    return {"items": items, "next_cursor": next_cursor}
