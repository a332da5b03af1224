"""Query log, claimed Slack events and FAQ entries.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "queries",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(200)),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("category", sa.String(32)),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("escalation_reason", sa.String(32)),
        sa.Column("escalated_at", sa.DateTime(timezone=True)),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("sources", sa.JSON, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("prompt_version", sa.String(64)),
        sa.Column("corpus_version", sa.Integer),
        sa.Column("helpful", sa.Boolean),
        sa.Column("feedback_at", sa.DateTime(timezone=True)),
        sa.Column("resolution", sa.Text),
        sa.Column("resolved_by", sa.String(200)),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("meta", sa.JSON, nullable=False),
    )
    op.create_index("ix_queries_created_at", "queries", ["created_at"])
    op.create_index("ix_queries_category", "queries", ["category"])
    op.create_index("ix_queries_outcome", "queries", ["outcome"])
    op.create_table(
        "claimed_events",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_claimed_events_claimed_at", "claimed_events", ["claimed_at"])
    op.create_table(
        "faq_entries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200)),
        sa.Column("source_query_id", sa.String(64)),
    )


def downgrade() -> None:
    op.drop_table("faq_entries")
    op.drop_index("ix_claimed_events_claimed_at", table_name="claimed_events")
    op.drop_table("claimed_events")
    op.drop_index("ix_queries_outcome", table_name="queries")
    op.drop_index("ix_queries_category", table_name="queries")
    op.drop_index("ix_queries_created_at", table_name="queries")
    op.drop_table("queries")
