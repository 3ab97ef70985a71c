"""Input types shared by the faces: bounded ids and text without NUL or control characters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BaseModel

MAX_ID = 2**31 - 1
NO_CONTROL = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$"

RecordId = Annotated[int, Path(ge=1, le=MAX_ID)]
OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
SearchText = Annotated[str | None, Query(max_length=200, pattern=NO_CONTROL)]
ShortText = Annotated[str | None, Query(max_length=60, pattern=NO_CONTROL)]
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=500, pattern=r"^[A-Za-z0-9_\-]*$")]


class ErrorRead(BaseModel):
    """Every API error: a stable code and, for invalid input, the fields and what is wrong."""

    error: str
    detail: dict[str, str] | list[dict[str, Any]] | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorRead, "description": text}
    for status, text in (
        (401, "Not signed in, or the token is unknown, revoked or expired"),
        (403, "The role or the token's scopes do not allow this"),
        (404, "No such record, or not one the caller may see"),
        (409, "Conflicts with existing data"),
        (422, "Invalid input: which field, and why"),
    )
}
