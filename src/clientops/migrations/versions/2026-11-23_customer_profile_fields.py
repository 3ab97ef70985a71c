"""Customer profile fields for the data platform: province, district, postcode, birth date and
identity-document number (addresses split, identity resolution).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

COLUMNS = (
    ("province", sa.String(40)),
    ("district", sa.String(60)),
    ("postcode", sa.String(16)),
    ("birth_date", sa.Date()),
    ("id_number", sa.String(32)),
)


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        for name, type_ in COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        for name, _type in reversed(COLUMNS):
            batch.drop_column(name)
