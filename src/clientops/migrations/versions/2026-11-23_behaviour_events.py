"""Behaviour events: the events, the ids clients know people by, per-customer summaries.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def _customer_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["customer_id"],
        ["customers.id"],
        name=op.f(f"fk_{table}_customer_id_customers"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("anonymous_id", sa.String(length=200), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        _customer_fk("events"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("message_id", name=op.f("uq_events_message_id")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events_customer_occurred", ["customer_id", "occurred_at", "id"], unique=False
        )
        batch_op.create_index("ix_events_occurred_id", ["occurred_at", "id"], unique=False)
        for name, column in (
            ("ix_events_unlinked_user", "user_id"),
            ("ix_events_unlinked_anonymous", "anonymous_id"),
        ):
            batch_op.create_index(
                name,
                [column, "source"],
                unique=False,
                sqlite_where=sa.text(f"customer_id IS NULL AND {column} IS NOT NULL"),
                postgresql_where=sa.text(f"customer_id IS NULL AND {column} IS NOT NULL"),
            )

    op.create_table(
        "event_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _customer_fk("event_identities"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_identities")),
        sa.UniqueConstraint(
            "source", "kind", "value", name=op.f("uq_event_identities_source_kind_value")
        ),
    )
    with op.batch_alter_table("event_identities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_event_identities_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "event_summaries",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("identifies", sa.Integer(), nullable=False),
        sa.Column("tracks", sa.Integer(), nullable=False),
        sa.Column("page_views", sa.Integer(), nullable=False),
        sa.Column("cart_adds", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _customer_fk("event_summaries"),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_event_summaries")),
    )


def downgrade() -> None:
    op.drop_table("event_summaries")
    with op.batch_alter_table("event_identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_identities_customer_id"))
    op.drop_table("event_identities")
    with op.batch_alter_table("events", schema=None) as batch_op:
        for name in (
            "ix_events_unlinked_anonymous",
            "ix_events_unlinked_user",
            "ix_events_occurred_id",
            "ix_events_customer_occurred",
        ):
            batch_op.drop_index(name)
    op.drop_table("events")
