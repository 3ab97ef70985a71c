"""Customers (people and companies), tags, custom fields, external ids, activities and orders."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clientops.audit.models import Audited
from clientops.db import Base, KeyString, TimestampMixin, utcnow

LIFECYCLE_STAGES = ("potential", "new", "growing", "mature", "declining", "churned")
CUSTOMER_KINDS = ("person", "company")
ACTIVITY_KINDS = ("note", "call", "meeting", "email")

customer_tags = Table(
    "customer_tags",
    Base.metadata,
    Column(
        "customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("tag_id", Integer, ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_customer_tags_tag_customer", "tag_id", "customer_id"),
)


class Tag(Audited, Base):
    """A free label put on customers."""

    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)


SEARCH_COVER = ("team_id", "owner_id", "created_at", "updated_at")
"""Columns every search index carries after (key, id): access check and sorts, no row read."""


class Customer(Audited, TimestampMixin, Base):
    """A person or a company the business serves; a company (account) has contacts (people).

    ``name_key``, ``alt_key``, ``phone_key`` and ``email_key`` are normalised search keys,
    compared bytewise so that prefix search is an index range scan on both databases.
    """

    __tablename__ = "customers"
    __table_args__ = (
        # Search indexes: the key, then what a search needs to order its matches and to check
        # record access without reading the row (id, team, owner, and the sortable columns).
        Index("ix_customers_search_name", "name_key", "id", *SEARCH_COVER),
        Index("ix_customers_search_alt", "alt_key", "id", "name_key", *SEARCH_COVER),
        Index("ix_customers_search_phone", "phone_key", "id", "name_key", *SEARCH_COVER),
        Index("ix_customers_search_email", "email_key", "id", "name_key", *SEARCH_COVER),
        Index("ix_customers_team_created", "team_id", "created_at", "id"),
        Index("ix_customers_owner_created", "owner_id", "created_at", "id"),
        Index("ix_customers_stage_created", "lifecycle_stage", "created_at", "id"),
        Index("ix_customers_created_id", "created_at", "id"),
        Index("ix_customers_updated_id", "updated_at", "id"),
    )
    audit_exclude = frozenset({"name_key", "alt_key", "phone_key", "email_key"})

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="person")
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(KeyString(200))
    alt_key: Mapped[str | None] = mapped_column(KeyString(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    phone_key: Mapped[str | None] = mapped_column(KeyString(32))
    email: Mapped[str | None] = mapped_column(String(254))
    email_key: Mapped[str | None] = mapped_column(KeyString(254))
    address: Mapped[str | None] = mapped_column(String(500))
    province: Mapped[str | None] = mapped_column(String(40))
    city: Mapped[str | None] = mapped_column(String(100))
    district: Mapped[str | None] = mapped_column(String(60))
    postcode: Mapped[str | None] = mapped_column(String(16))
    birth_date: Mapped[date | None] = mapped_column(Date)
    id_number: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str | None] = mapped_column(String(120))
    website: Mapped[str | None] = mapped_column(String(200))
    industry: Mapped[str | None] = mapped_column(String(100))
    lifecycle_stage: Mapped[str] = mapped_column(String(16), default="potential")
    source: Mapped[str | None] = mapped_column(String(60))
    notes: Mapped[str | None] = mapped_column(Text)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))

    tags: Mapped[list[Tag]] = relationship(secondary=customer_tags, lazy="selectin")
    account: Mapped[Customer | None] = relationship(remote_side=[id], foreign_keys=[account_id])
    external_ids: Mapped[list[ExternalId]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", lazy="selectin"
    )
    field_values: Mapped[list[CustomFieldValue]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", lazy="selectin"
    )


class ExternalId(Audited, Base):
    """The id a source system (ERP, shop, service desk) knows this customer by."""

    __tablename__ = "customer_external_ids"
    __table_args__ = (UniqueConstraint("source", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(60))
    external_id: Mapped[str] = mapped_column(String(120))
    customer: Mapped[Customer] = relationship(back_populates="external_ids")


class CustomFieldDef(Audited, Base):
    """An admin-defined extra field on customers: text, number, date or choice."""

    __tablename__ = "custom_field_defs"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    label_en: Mapped[str] = mapped_column(String(120))
    label_zh: Mapped[str] = mapped_column(String(120))
    field_type: Mapped[str] = mapped_column(String(16))
    choices: Mapped[list[str]] = mapped_column(JSON, default=list)
    required: Mapped[bool] = mapped_column(default=False)


class CustomFieldValue(Audited, Base):
    """One customer's value for one custom field, typed so it can be searched and ranged."""

    __tablename__ = "custom_field_values"
    __table_args__ = (
        UniqueConstraint("customer_id", "field_id"),
        Index("ix_custom_field_values_text", "field_id", "text_value"),
        Index("ix_custom_field_values_number", "field_id", "number_value"),
        Index("ix_custom_field_values_date", "field_id", "date_value"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    field_id: Mapped[int] = mapped_column(ForeignKey("custom_field_defs.id", ondelete="CASCADE"))
    text_value: Mapped[str | None] = mapped_column(String(500))
    number_value: Mapped[Decimal | None] = mapped_column(Numeric(20, 6))
    date_value: Mapped[date | None] = mapped_column(Date)
    customer: Mapped[Customer] = relationship(back_populates="field_values")
    field: Mapped[CustomFieldDef] = relationship(lazy="joined")


class Activity(Audited, Base):
    """Something that happened with a customer: a note, call, meeting or logged email."""

    __tablename__ = "activities"
    __table_args__ = (
        Index("ix_activities_customer_at", "customer_id", "occurred_at"),
        UniqueConstraint("source", "external_id"),  # imports: re-importing changes nothing
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    source: Mapped[str | None] = mapped_column(String(60))
    external_id: Mapped[str | None] = mapped_column(String(120))


class Order(Audited, Base):
    """A purchase by a customer."""

    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_customer_at", "customer_id", "ordered_at"),
        UniqueConstraint("source", "number"),  # imports: re-importing changes nothing
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(40))
    ordered_at: Mapped[datetime] = mapped_column()
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    channel: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="paid")
    source: Mapped[str | None] = mapped_column(String(60))
