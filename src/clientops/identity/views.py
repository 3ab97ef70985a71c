"""Identity resolution pages (being built for issue #3)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/identity")
