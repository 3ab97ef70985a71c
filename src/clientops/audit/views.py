"""The audit trail page for admins: filter by actor, entity, action; newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from clientops.audit import service
from clientops.auth import service as auth_service
from clientops.auth.deps import SessionDep, access
from clientops.core.access import Principal
from clientops.core.web import render

router = APIRouter()
Auditor = Annotated[Principal, Depends(access("audit:read"))]
PAGE = 50


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 10 else None


@router.get("/audit")
def audit_page(request: Request, db: SessionDep, principal: Auditor) -> Response:
    """Browse the audit trail."""
    params = request.query_params
    stmt = service.browse(
        actor_id=_int(params.get("actor_id")),
        entity_type=(params.get("entity_type") or "")[:64] or None,
        entity_id=(params.get("entity_id") or "")[:64] or None,
        action=(params.get("action") or "")[:32] or None,
        before_id=_int(params.get("before")),
    )
    rows = list(db.scalars(stmt.limit(PAGE + 1)))
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    context = {
        "rows": rows,
        "next_before": rows[-1].id if more and rows else None,
        "users": auth_service.list_users(db=db),
        "query": params,
        "entity_types": service.ENTITY_TYPES,
        "actions": service.ACTIONS,
    }
    return render(request, "audit/list.html", context, fragment="audit/_table.html")
