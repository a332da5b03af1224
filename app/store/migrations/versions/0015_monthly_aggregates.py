"""Monthly aggregates (the counts of questions purged by retention or forgotten on request) and rate-limit buckets
shared by every replica (MADOGUCHI_RATE_LIMIT_SHARED).

Revision ID: 0015
Revises: 0001
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monthly_aggregates",
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("category", sa.String(32), primary_key=True),
        sa.Column("outcome", sa.String(16), primary_key=True),
        sa.Column("helpful_yes", sa.Integer, nullable=False),
        sa.Column("helpful_no", sa.Integer, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
    )

    op.create_table(
        "rate_buckets",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_rate_buckets_at", "rate_buckets", ["at"])


def downgrade() -> None:
    op.drop_index("ix_rate_buckets_at", table_name="rate_buckets")
    op.drop_table("rate_buckets")
    op.drop_table("monthly_aggregates")
