"""Identity resolution: candidate pairs (the review queue), reversible merges, resolve runs.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

UTC_TS = sa.DateTime(timezone=True)


def _user_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"), ondelete="SET NULL"
    )


def _pairs() -> None:
    op.create_table(
        "identity_pairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("left_id", sa.Integer(), nullable=False),
        sa.Column("right_id", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("match_weight", sa.Float(), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", UTC_TS, nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC_TS, nullable=False),
        sa.Column("updated_at", UTC_TS, nullable=False),
        _user_fk("identity_pairs", "decided_by"),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_identity_pairs_job_id_jobs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_pairs")),
        sa.UniqueConstraint("left_id", "right_id", name=op.f("uq_identity_pairs_left_id_right_id")),
    )
    with op.batch_alter_table("identity_pairs") as batch:
        batch.create_index(
            "ix_identity_pairs_status_probability", ["status", "probability", "id"], unique=False
        )
        batch.create_index("ix_identity_pairs_right_id", ["right_id"], unique=False)
        batch.create_index(batch.f("ix_identity_pairs_created_at"), ["created_at"], unique=False)


def _merges() -> None:
    op.create_table(
        "identity_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survivor_id", sa.Integer(), nullable=False),
        sa.Column("merged_id", sa.Integer(), nullable=False),
        sa.Column("pair_id", sa.Integer(), nullable=True),
        sa.Column("merged_name", sa.String(length=200), nullable=False),
        *(
            sa.Column(name, sa.JSON(), nullable=False)
            for name in (
                "merged_row",
                "merged_children",
                "survivor_row",
                "survivor_children",
                "survivor_after",
                "moved",
                "dropped",
                "pairs",
                "choices",
                "reason",
            )
        ),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC_TS, nullable=False),
        sa.Column("undone_at", UTC_TS, nullable=True),
        sa.Column("undone_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["pair_id"],
            ["identity_pairs.id"],
            name=op.f("fk_identity_merges_pair_id_identity_pairs"),
            ondelete="SET NULL",
        ),
        _user_fk("identity_merges", "created_by"),
        _user_fk("identity_merges", "undone_by"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_merges")),
    )
    with op.batch_alter_table("identity_merges") as batch:
        batch.create_index("ix_identity_merges_survivor", ["survivor_id", "id"], unique=False)
        batch.create_index("ix_identity_merges_merged", ["merged_id", "id"], unique=False)


def _runs() -> None:
    op.create_table(
        "identity_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("since", UTC_TS, nullable=True),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in ("records", "focus", "pairs_found", "auto_merged", "queued", "skipped")
        ),
        sa.Column("started_at", UTC_TS, nullable=False),
        sa.Column("finished_at", UTC_TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_identity_runs_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_runs")),
        sa.UniqueConstraint("job_id", name=op.f("uq_identity_runs_job_id")),
    )


def upgrade() -> None:
    _pairs()
    _merges()
    _runs()


def downgrade() -> None:
    op.drop_table("identity_runs")
    op.drop_table("identity_merges")
    with op.batch_alter_table("identity_pairs") as batch:
        batch.drop_index(batch.f("ix_identity_pairs_created_at"))
        batch.drop_index("ix_identity_pairs_right_id")
        batch.drop_index("ix_identity_pairs_status_probability")
    op.drop_table("identity_pairs")
