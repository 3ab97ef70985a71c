"""Events pages: ``/events`` lists recent behaviour events, filtered by type, name and
customer, restricted to the customers the reader may see."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from clientops.auth.deps import SessionDep, access
from clientops.core.access import Principal
from clientops.core.web import render
from clientops.events import service
from clientops.events.models import EVENT_TYPES, Event
from clientops.exceptions import InvalidInput

router = APIRouter(prefix="/events")
Reader = Annotated[Principal, Depends(access("events:read"))]
PAGE_SIZE = 50


def _filters(request: Request) -> dict[str, str]:
    """The filters of the query string that are valid; the others are dropped."""
    params = request.query_params
    found: dict[str, str] = {}
    if params.get("type") in EVENT_TYPES:
        found["type"] = params["type"]
    name = (params.get("event") or "").strip()[:200]
    if name and name.isprintable():
        found["event"] = name
    customer = params.get("customer_id", "")
    if customer.isdigit() and 0 < int(customer) < 2**31:
        found["customer_id"] = customer
    return found


@router.get("")
def events_page(request: Request, db: SessionDep, principal: Reader) -> Response:
    """Recent events, newest first, with filters and next pages."""
    filters = _filters(request)
    cursor = request.query_params.get("cursor") or None
    customer_id = int(filters["customer_id"]) if "customer_id" in filters else None

    def page(after: str | None) -> tuple[list[Event], str | None]:
        return service.list_page(
            db=db,
            principal=principal,
            customer_id=customer_id,
            event_type=filters.get("type"),
            name=filters.get("event"),
            cursor=after,
            limit=PAGE_SIZE,
        )

    try:
        rows, next_cursor = page(cursor)
    except InvalidInput:  # a damaged cursor: start again from the newest
        rows, next_cursor = page(None)
    names = service.customer_names(db=db, principal=principal, ids=[e.customer_id for e in rows])
    context = {
        "rows": [service.to_read(e, principal) for e in rows],
        "names": names,
        "filters": filters,
        "types": EVENT_TYPES,
        "type_labels": service.TYPE_LABELS,
        "next_cursor": next_cursor,
        "has_cursor": bool(cursor),
        "base_qs": urlencode(filters),
    }
    return render(request, "events/list.html", context, fragment="events/_table.html")
