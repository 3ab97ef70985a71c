"""Events tables (being built for issue #3)."""

from __future__ import annotations
