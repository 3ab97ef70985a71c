"""Customer value analytics: score tables with history, rule tables, model versions.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_cohorts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("cohort_month", sa.Date(), nullable=False),
        sa.Column("month_offset", sa.Integer(), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("revenue", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_cohorts")),
    )
    with op.batch_alter_table("analytics_cohorts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_analytics_cohorts_cohort", ["cohort_month", "month_offset", "team_id"], unique=False
        )

    op.create_table(
        "analytics_stage_flows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("from_stage", sa.String(length=16), nullable=False),
        sa.Column("to_stage", sa.String(length=16), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_stage_flows")),
    )
    with op.batch_alter_table("analytics_stage_flows", schema=None) as batch_op:
        batch_op.create_index("ix_analytics_stage_flows_month", ["month", "team_id"], unique=False)

    op.create_table(
        "churn_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("definition", sa.String(length=40), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("model_text", sa.Text(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_churn_models")),
        sa.UniqueConstraint("version", name=op.f("uq_churn_models_version")),
    )
    op.create_table(
        "analytics_rule_sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_analytics_rule_sets_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_rule_sets")),
        sa.UniqueConstraint("kind", "version", name=op.f("uq_analytics_rule_sets_kind_version")),
    )
    op.create_table(
        "analytics_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("engine", sa.String(length=16), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("history_rows", sa.Integer(), nullable=False),
        sa.Column("tiers_evaluated", sa.Boolean(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("peak_memory_mb", sa.Float(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=True),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_analytics_runs_job_id_jobs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_runs")),
        sa.UniqueConstraint("job_id", name=op.f("uq_analytics_runs_job_id")),
    )
    with op.batch_alter_table("analytics_runs", schema=None) as batch_op:
        batch_op.create_index("ix_analytics_runs_as_of", ["as_of"], unique=False)

    op.create_table(
        "customer_score_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("changed", sa.String(length=40), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=True),
        sa.Column("previous_tier", sa.String(length=16), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=True),
        sa.Column("previous_stage", sa.String(length=16), nullable=True),
        sa.Column("rfm_segment", sa.String(length=40), nullable=True),
        sa.Column("previous_segment", sa.String(length=40), nullable=True),
        sa.Column("revenue_12m", sa.Float(), nullable=True),
        sa.Column("clv", sa.Float(), nullable=True),
        sa.Column("p_alive", sa.Float(), nullable=True),
        sa.Column("churn_risk", sa.Float(), nullable=True),
        sa.Column("health", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_score_history_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_score_history")),
    )
    with op.batch_alter_table("customer_score_history", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customer_score_history_customer_as_of", ["customer_id", "as_of"], unique=False
        )

    op.create_table(
        "customer_scores",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("revenue", sa.Float(), nullable=False),
        sa.Column("revenue_12m", sa.Float(), nullable=False),
        sa.Column("first_order_on", sa.Date(), nullable=True),
        sa.Column("last_order_on", sa.Date(), nullable=True),
        sa.Column("recency_days", sa.Integer(), nullable=True),
        sa.Column("r_score", sa.SmallInteger(), nullable=True),
        sa.Column("f_score", sa.SmallInteger(), nullable=True),
        sa.Column("m_score", sa.SmallInteger(), nullable=True),
        sa.Column("rfm_segment", sa.String(length=40), nullable=True),
        sa.Column("tier", sa.String(length=16), nullable=True),
        sa.Column("tier_since", sa.Date(), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("stage_since", sa.Date(), nullable=True),
        sa.Column("stage_at_month_start", sa.String(length=16), nullable=True),
        sa.Column("clv", sa.Float(), nullable=True),
        sa.Column("p_alive", sa.Float(), nullable=True),
        sa.Column("expected_purchases", sa.Float(), nullable=True),
        sa.Column("churn_risk", sa.Float(), nullable=True),
        sa.Column("churn_drivers", sa.JSON(), nullable=True),
        sa.Column("health", sa.Float(), nullable=True),
        sa.Column("health_parts", sa.JSON(), nullable=True),
        sa.Column("value_at_risk", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_scores_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_scores")),
    )


def downgrade() -> None:
    op.drop_table("customer_scores")
    with op.batch_alter_table("customer_score_history", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_score_history_customer_as_of")

    op.drop_table("customer_score_history")
    with op.batch_alter_table("analytics_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_analytics_runs_as_of")

    op.drop_table("analytics_runs")
    op.drop_table("analytics_rule_sets")
    op.drop_table("churn_models")
    with op.batch_alter_table("analytics_stage_flows", schema=None) as batch_op:
        batch_op.drop_index("ix_analytics_stage_flows_month")

    op.drop_table("analytics_stage_flows")
    with op.batch_alter_table("analytics_cohorts", schema=None) as batch_op:
        batch_op.drop_index("ix_analytics_cohorts_cohort")

    op.drop_table("analytics_cohorts")
