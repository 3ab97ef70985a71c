"""Who am I, for API clients."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from clientops.auth.deps import SignedIn, public
from clientops.core.types import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["auth"], responses=ERROR_RESPONSES)


class MeRead(BaseModel):
    """The signed-in user or token owner, with what they may do."""

    user_id: int
    username: str
    role: str
    team_ids: list[int]
    scopes: list[str] | None


@router.get("/me", response_model=MeRead)
def me(principal: SignedIn) -> MeRead:
    """The principal this request acts as."""
    return MeRead(
        user_id=principal.user_id,
        username=principal.username,
        role=principal.role,
        team_ids=sorted(principal.team_ids),
        scopes=sorted(principal.scopes) if principal.scopes is not None else None,
    )


docs_router = APIRouter()


@docs_router.get("/api/docs", include_in_schema=False, dependencies=[Depends(public)])
def api_docs() -> HTMLResponse:
    """Interactive API documentation (Swagger UI, served from our own static files)."""
    return get_swagger_ui_html(
        openapi_url="/api/openapi.json",
        title="clientops API",
        swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
        swagger_favicon_url="/static/favicon.png",
    )
