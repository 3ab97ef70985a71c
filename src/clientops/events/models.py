"""Behaviour events (identify, track, page), the ids clients know people by, and per-customer
summaries of what the events say."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from clientops.db import Base, utcnow

EVENT_TYPES = ("identify", "track", "page")
IDENTITY_KINDS = ("anonymous_id", "user_id")

# SQLite numbers rows itself only for an INTEGER primary key; PostgreSQL needs 64 bits here.
EventId = BigInteger().with_variant(Integer(), "sqlite")
UNLINKED_USER = text("customer_id IS NULL AND user_id IS NOT NULL")
UNLINKED_ANONYMOUS = text("customer_id IS NULL AND anonymous_id IS NOT NULL")


class JSONText(TypeDecorator[dict[str, Any]]):
    """A JSON document kept as text: stored as the client sent it (already checked), with no
    second parse by the database on the ingestion path; read back as a dict. Query it with
    ``payload::json`` on PostgreSQL, the JSON functions on SQLite and DuckDB."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None or isinstance(value, str):
            return value
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def process_result_value(self, value: Any, dialect: Any) -> dict[str, Any] | None:
        if value is None:
            return None
        parsed: dict[str, Any] = json.loads(value)
        return parsed


class Event(Base):
    """One event as a client sent it, linked to a customer once the person is known.

    ``payload`` is the event's JSON exactly as the client sent it (properties, traits and
    context included); the columns repeat what is searched and linked on. ``message_id`` is
    the client's id of the event: a retried event is stored once. ``name`` is the event name
    of a ``track`` and the page name of a ``page``.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_customer_occurred", "customer_id", "occurred_at", "id"),
        Index("ix_events_occurred_id", "occurred_at", "id"),
        # Only unlinked events are looked up by the ids a client sent (to link them later):
        # partial indexes keep that cheap without indexing every linked event a second time.
        # The id comes first so that neither index can pass for the other one's lookup, even
        # to a planner without statistics.
        Index(
            "ix_events_unlinked_user",
            "user_id",
            "source",
            sqlite_where=UNLINKED_USER,
            postgresql_where=UNLINKED_USER,
        ),
        Index(
            "ix_events_unlinked_anonymous",
            "anonymous_id",
            "source",
            sqlite_where=UNLINKED_ANONYMOUS,
            postgresql_where=UNLINKED_ANONYMOUS,
        ),
    )

    id: Mapped[int] = mapped_column(EventId, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(100), unique=True)
    type: Mapped[str] = mapped_column(String(8))
    name: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(60))
    user_id: Mapped[str | None] = mapped_column(String(200))
    anonymous_id: Mapped[str | None] = mapped_column(String(200))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONText)


class EventIdentity(Base):
    """An id a client knows a person by, within a source, linked to a customer by ``identify``:
    an anonymous (device) id, or a user id that no external id of the customer carries."""

    __tablename__ = "event_identities"
    __table_args__ = (UniqueConstraint("source", "kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EventSummary(Base):
    """What a customer's events add up to, kept current by each batch; derived data that
    ``service.recompute_summary`` rebuilds from the events alone. No column that changes is
    indexed, so PostgreSQL can update the rows in place (the same rows change every batch)."""

    __tablename__ = "event_summaries"

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    first_seen_at: Mapped[datetime] = mapped_column()
    last_seen_at: Mapped[datetime] = mapped_column()
    events: Mapped[int] = mapped_column(default=0)
    identifies: Mapped[int] = mapped_column(default=0)
    tracks: Mapped[int] = mapped_column(default=0)
    page_views: Mapped[int] = mapped_column(default=0)
    cart_adds: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
