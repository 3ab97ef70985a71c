"""Imports: the imports and their staged batches, saved mappings, order lines, and the source
keys that make re-importing orders and activities change nothing.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

WHEN = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def _create_imports() -> None:
    op.create_table(
        "imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("stored_name", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("encoding", sa.String(length=32), nullable=True),
        sa.Column("encoding_confident", sa.Boolean(), nullable=False),
        sa.Column("delimiter", sa.String(length=4), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("staged_key", sa.String(length=64), nullable=True),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("accounts_created", sa.Integer(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("started_at", WHEN, nullable=True),
        sa.Column("finished_at", WHEN, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        _fk("imports", "job_id", "jobs", "SET NULL"),
        _fk("imports", "created_by", "users", "SET NULL"),
        _fk("imports", "team_id", "teams", "SET NULL"),
        _fk("imports", "owner_id", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imports")),
    )
    with op.batch_alter_table("imports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_imports_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            "ix_imports_created_by_created", ["created_by", "created_at"], unique=False
        )


def _create_batches_and_mappings() -> None:
    op.create_table(
        "import_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("invalid", sa.Integer(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("cells", sa.LargeBinary(), nullable=False),
        sa.Column("report", sa.LargeBinary(), nullable=False),
        sa.Column("failures", sa.LargeBinary(), nullable=True),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        _fk("import_batches", "import_id", "imports", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_batches")),
        sa.UniqueConstraint("import_id", "number", name=op.f("uq_import_batches_import_id_number")),
    )
    op.create_table(
        "import_mappings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        _fk("import_mappings", "created_by", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_mappings")),
        sa.UniqueConstraint("kind", "name", name=op.f("uq_import_mappings_kind_name")),
    )
    with op.batch_alter_table("import_mappings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_import_mappings_created_at"), ["created_at"], unique=False
        )


def _create_order_lines() -> None:
    op.create_table(
        "order_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=60), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        _fk("order_lines", "order_id", "orders", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_lines")),
        sa.UniqueConstraint("order_id", "line_no", name=op.f("uq_order_lines_order_id_line_no")),
    )


def upgrade() -> None:
    _create_imports()
    _create_batches_and_mappings()
    _create_order_lines()
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=60), nullable=True))
        batch_op.create_unique_constraint(op.f("uq_orders_source_number"), ["source", "number"])
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("external_id", sa.String(length=120), nullable=True))
        batch_op.create_unique_constraint(
            op.f("uq_activities_source_external_id"), ["source", "external_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_activities_source_external_id"), type_="unique")
        batch_op.drop_column("external_id")
        batch_op.drop_column("source")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_orders_source_number"), type_="unique")
        batch_op.drop_column("source")
    op.drop_table("order_lines")
    with op.batch_alter_table("import_mappings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_mappings_created_at"))
    op.drop_table("import_mappings")
    op.drop_table("import_batches")
    with op.batch_alter_table("imports", schema=None) as batch_op:
        batch_op.drop_index("ix_imports_created_by_created")
        batch_op.drop_index(batch_op.f("ix_imports_created_at"))
    op.drop_table("imports")
