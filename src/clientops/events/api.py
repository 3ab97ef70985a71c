"""Events JSON API (being built for issue #3)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/events")
