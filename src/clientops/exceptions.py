"""Errors the services raise; the faces turn them into pages, JSON or exit codes."""

from __future__ import annotations


class ClientOpsError(Exception):
    """Base of the domain errors."""


class NotFound(ClientOpsError):
    """The record does not exist, or the actor may not see it (the two are not told apart)."""


class Forbidden(ClientOpsError):
    """The actor may see the record but not do this to it."""


class InvalidInput(ClientOpsError):
    """Input failed validation; ``errors`` maps a field to a message key."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class Conflict(ClientOpsError):
    """The change clashes with existing data (a duplicate key)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
