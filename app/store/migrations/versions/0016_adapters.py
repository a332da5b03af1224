"""Query adapter versions trained per deployment by `madoguchi adapt` (one active at a time, shared by replicas).

Revision ID: 0016
Revises: 0001
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "adapter_versions",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("embedder", sa.String(200), nullable=False),
        sa.Column("matrix", sa.LargeBinary, nullable=False),
        sa.Column("pairs", sa.Integer, nullable=False),
        sa.Column("heldout", sa.Integer, nullable=False),
        sa.Column("heldout_hit1_before", sa.Float),
        sa.Column("heldout_hit1_after", sa.Float),
        sa.Column("swapped", sa.Boolean, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("rolled_back_at", sa.DateTime(timezone=True)),
        sa.Column("created_by", sa.String(200)),
        sa.Column("note", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("adapter_versions")
