"""Events JSON API: ``POST /api/v1/events`` takes batches of identify, track and page events;
``GET /api/v1/events`` reads them back, restricted to the customers the caller may see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from clientops.auth.deps import SessionDep, access
from clientops.config import current
from clientops.core.access import Principal
from clientops.core.types import (
    ERROR_RESPONSES,
    NO_CONTROL,
    Cursor,
    ErrorRead,
    Limit,
    OptionalId,
)
from clientops.events import service
from clientops.events.schemas import EventBatch, EventPage, IngestResult

router = APIRouter(prefix="/api/v1/events", tags=["events"], responses=ERROR_RESPONSES)

Writer = Annotated[Principal, Depends(access("events:write"))]
Reader = Annotated[Principal, Depends(access("events:read"))]
EventType = Annotated[
    Literal["identify", "track", "page"] | None, Query(alias="type", description="Event type")
]
EventName = Annotated[
    str | None,
    Query(max_length=200, pattern=NO_CONTROL, description="The track event or page name"),
]


@dataclass(frozen=True)
class RawBody:
    """The request body as sent, unless it is larger than a batch may be."""

    data: bytes
    too_large: bool
    json: bool


async def raw_body(request: Request) -> RawBody:
    """Read the body once, stopping as soon as it is over ``events_max_batch_bytes``."""
    limit = current().events_max_batch_bytes
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    is_json = media_type == "application/json"
    if not is_json:  # refused unread (a form may even have been read for its CSRF token)
        return RawBody(b"", False, False)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return RawBody(b"", True, True)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return RawBody(b"", True, True)
        chunks.append(chunk)
    return RawBody(b"".join(chunks), False, True)


Body = Annotated[RawBody, Depends(raw_body)]


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with its ``$defs`` put in place, to stand alone inside the OpenAPI
    document (whose ``#`` is not the schema's)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(defs[ref.rsplit("/", 1)[1]])
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    result: dict[str, Any] = walk(schema)
    return result


BATCH_DOC = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _inline(EventBatch.model_json_schema())}},
    }
}
REFUSED: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorRead, "description": "Not a batch, or no event in it is valid"},
    413: {"model": ErrorRead, "description": "Over a limit: body size, events, event size"},
    415: {"model": ErrorRead, "description": "The body is not application/json"},
}


def _refused(status: int, code: str, detail: Any) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status)


@router.post("", response_model=IngestResult, responses=REFUSED, openapi_extra=BATCH_DOC)
def ingest(db: SessionDep, principal: Writer, body: Body) -> Any:
    """Store a batch of events, each once (by ``message_id``), and link them to customers.

    Answers 200 with what happened to every event (stored, duplicate, or rejected with its
    index and error) once the stored events are committed; 400/413/415 when the batch as a
    whole is refused, and then nothing is stored."""
    if not body.json:
        return _refused(415, "unsupported_media_type", {"content-type": "application/json"})
    if body.too_large:
        limit = current().events_max_batch_bytes
        return _refused(413, "batch_too_large", {"limit": f"at most {limit} bytes"})
    try:
        return service.ingest(db=db, principal=principal, body=body.data)
    except service.BatchRefused as exc:
        return _refused(exc.status, exc.code, exc.detail)


@router.get("", response_model=EventPage)
def list_events(
    db: SessionDep,
    principal: Reader,
    customer_id: OptionalId = None,
    event_type: EventType = None,
    event: EventName = None,
    cursor: Cursor = None,
    limit: Limit = 25,
) -> dict[str, Any]:
    """Events the caller may see, newest first: a team-scoped reader sees the events of the
    customers they may see; ``event`` filters on the event (track) or page name."""
    rows, next_cursor = service.list_page(
        db=db,
        principal=principal,
        customer_id=customer_id,
        event_type=event_type,
        name=event,
        cursor=cursor,
        limit=limit,
    )
    return {"items": [service.to_read(e, principal) for e in rows], "next_cursor": next_cursor}
