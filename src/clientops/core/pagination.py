"""Opaque keyset cursors: stable, fast pages at any depth."""

from __future__ import annotations

import base64
import json
from typing import Any

from clientops.exceptions import InvalidInput


def encode_cursor(values: list[Any]) -> str:
    """An opaque cursor for the sort key of the last row on a page."""
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    """The sort key inside a cursor; a malformed cursor is an input error."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except ValueError as exc:
        raise InvalidInput({"cursor": "invalid"}) from exc
    if not isinstance(values, list) or len(values) != 2:
        raise InvalidInput({"cursor": "invalid"})
    return values
