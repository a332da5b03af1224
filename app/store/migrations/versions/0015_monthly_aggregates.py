"""Monthly aggregates: the counts of questions purged by retention or forgotten on request.

Revision ID: 0015
Revises: 0001
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0001"
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


def downgrade() -> None:
    op.drop_table("monthly_aggregates")
