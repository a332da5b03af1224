"""Follow-up tokens (a hash per question), who handles a question, and the outgoing webhook's outbox and delivery log.

Revision ID: 0011
Revises: 0016
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0016"  # chained after main's 0016 when main was merged into this branch
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("queries") as batch:
        batch.add_column(sa.Column("follow_up_hash", sa.String(64)))
        batch.add_column(sa.Column("assignee", sa.String(200)))
        batch.add_column(sa.Column("assigned_at", sa.DateTime(timezone=True)))
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.String(64), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("query_id", sa.String(64)),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_webhook_deliveries_at", "webhook_deliveries", ["at"])
    op.create_table(
        "webhook_outbox",
        sa.Column("delivery_id", sa.String(64), primary_key=True),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("query_id", sa.String(64)),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("webhook_outbox")
    op.drop_index("ix_webhook_deliveries_at", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    with op.batch_alter_table("queries") as batch:
        batch.drop_column("assigned_at")
        batch.drop_column("assignee")
        batch.drop_column("follow_up_hash")
