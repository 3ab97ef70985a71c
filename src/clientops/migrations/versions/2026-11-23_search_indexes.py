"""Covering search indexes: a restricted, sorted search reads index entries, not rows.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

OLD = {
    "ix_customers_name_key_id": ["name_key", "id"],
    "ix_customers_alt_key": ["alt_key"],
    "ix_customers_phone_key": ["phone_key"],
    "ix_customers_email_key": ["email_key"],
}
COVER = ["team_id", "owner_id", "created_at", "updated_at"]
NEW = {
    "ix_customers_search_name": ["name_key", "id", *COVER],
    "ix_customers_search_alt": ["alt_key", "id", "name_key", *COVER],
    "ix_customers_search_phone": ["phone_key", "id", "name_key", *COVER],
    "ix_customers_search_email": ["email_key", "id", "name_key", *COVER],
}


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        for name in OLD:
            batch_op.drop_index(name)
        for name, columns in NEW.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        for name in NEW:
            batch_op.drop_index(name)
        for name, columns in OLD.items():
            batch_op.create_index(name, columns, unique=False)
