"""``clientops dedupe`` (standalone, no server) and ``clientops resolve`` (issue #3)."""

from __future__ import annotations


def dedupe() -> None:
    """Cluster the records of a CSV file into people (being built)."""


def resolve() -> None:
    """Find and merge duplicate customers in the database (being built)."""
