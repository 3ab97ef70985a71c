"""Imports durable workflows (being built for issue #3)."""

from __future__ import annotations
