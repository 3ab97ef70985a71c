"""Shapes of the events API: the batch a client posts, the answer, the events read back.

The batch is parsed and checked by ``service`` (one pass, per-event errors); the models here
describe it for the API documentation and shape what is read back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

EventType = Literal["identify", "track", "page"]


class EventIn(BaseModel):
    """One event of a batch. Which fields an event may carry depends on its ``type``:
    ``identify`` takes ``traits``; ``track`` takes ``event`` (required) and ``properties``;
    ``page`` takes ``name`` and ``properties``. Unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid")

    type: EventType
    message_id: str = Field(
        min_length=1,
        max_length=100,
        description="The client's id of the event: a retry with "
        "the same id is stored once (reported as a duplicate).",
    )
    timestamp: datetime = Field(
        description="When it happened, ISO 8601 (`2026-11-23T08:30:00Z`); without an offset "
        "it is taken as UTC; at most a day ahead of the server's clock."
    )
    user_id: str | None = Field(
        default=None,
        max_length=200,
        description="The person's id in the sending system: the customer whose external id in "
        "the batch's `source` is this value (or who was identified with it).",
    )
    anonymous_id: str | None = Field(
        default=None,
        max_length=200,
        description="A device or cookie id; linked to a customer by an `identify` that carries "
        "it. An event needs `user_id` or `anonymous_id`.",
    )
    event: str | None = Field(default=None, max_length=200, description="track: the event name")
    name: str | None = Field(default=None, max_length=200, description="page: the page name")
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = Field(
        default=None,
        description="identify: what is known about the person; `email` and `phone` link the "
        "event to the customer with that (normalised) address or number.",
    )
    context: dict[str, Any] | None = None


class EventBatch(BaseModel):
    """``POST /api/v1/events``: up to ``events_max_batch`` events (1,000 by default), at most
    ``events_max_event_bytes`` per event and ``events_max_batch_bytes`` per body."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(
        default="app",
        pattern=r"^[A-Za-z0-9_.\-]{1,60}$",
        description="The system the events come from; the namespace of their user and "
        "anonymous ids (`web`, `shop`, ...). The default is `app`.",
    )
    batch: list[EventIn] = Field(min_length=1)


class Rejection(BaseModel):
    """An event of the batch that was not stored, and why."""

    index: int = Field(description="Position of the event in `batch`, from 0.")
    message_id: str | None
    error: str = Field(description="A stable code, e.g. `invalid_timestamp`.")
    detail: str = Field(description="What is wrong, in words.")


class IngestResult(BaseModel):
    """What happened to each event of a batch: every event is counted exactly once."""

    accepted: int = Field(description="Events stored now.")
    duplicates: int = Field(description="Events whose `message_id` was already stored.")
    rejected: list[Rejection]


class EventRead(BaseModel):
    """A stored event as a reader sees it (personal data masked for roles that do not see it
    in clear)."""

    id: int
    type: EventType
    message_id: str
    timestamp: datetime
    received_at: datetime
    source: str
    customer_id: int | None
    user_id: str | None
    anonymous_id: str | None
    event: str | None
    name: str | None
    properties: dict[str, Any] | None
    traits: dict[str, Any] | None
    context: dict[str, Any] | None


class EventPage(BaseModel):
    """A page of events, newest first, and the cursor of the next page (null at the end)."""

    items: list[EventRead]
    next_cursor: str | None
