"""Cells for CSV/XLSX exports, neutralised against formula injection."""

from __future__ import annotations

from datetime import datetime
from typing import Any

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """The cell text; one that a spreadsheet would run as a formula is prefixed with ``'``."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    if isinstance(value, int | float):
        return text
    return "'" + text if text.startswith(_TRIGGERS) else text
