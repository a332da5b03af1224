"""FAQ wordings (言い換え), the review queue of proposed wordings, staff overrides of FAQ spreadsheet rows, and the
articles an FAQ entry cites (要確認 when their text changes).

Revision ID: 0012
Revises: 0014
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A staff entry that overrides a row of an ingested FAQ sheet: the sheet's document, the row's question, and the
    # row's answer when it was overridden (a different answer in the sheet later is shown as a conflict).
    with op.batch_alter_table("faq_entries") as batch:
        batch.add_column(sa.Column("sheet_doc_id", sa.String(512)))
        batch.add_column(sa.Column("sheet_question", sa.Text))
        batch.add_column(sa.Column("sheet_answer", sa.Text))
        # Articles the answer rests on: [{doc_id, source, section, hash}] (hash of the article's text when cited).
        batch.add_column(sa.Column("citations", sa.JSON))
        # A deleted sheet row: the override hides the row (and answers nothing itself) until the override is removed.
        batch.add_column(sa.Column("hidden", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "faq_wordings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entry_id", sa.Integer, sa.ForeignKey("faq_entries.id", ondelete="CASCADE"), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200)),
        sa.Column("source_query_id", sa.String(64)),
    )
    op.create_index("ix_faq_wordings_entry_id", "faq_wordings", ["entry_id"])
    op.create_table(
        "faq_wording_proposals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entry_id", sa.Integer, sa.ForeignKey("faq_entries.id", ondelete="CASCADE"), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("query_id", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decided_by", sa.String(200)),
    )
    op.create_index("ix_faq_wording_proposals_status", "faq_wording_proposals", ["status"])
    op.create_index("ix_faq_wording_proposals_entry_id", "faq_wording_proposals", ["entry_id"])


def downgrade() -> None:
    op.drop_index("ix_faq_wording_proposals_entry_id", table_name="faq_wording_proposals")
    op.drop_index("ix_faq_wording_proposals_status", table_name="faq_wording_proposals")
    op.drop_table("faq_wording_proposals")
    op.drop_index("ix_faq_wordings_entry_id", table_name="faq_wordings")
    op.drop_table("faq_wordings")
    with op.batch_alter_table("faq_entries") as batch:
        batch.drop_column("hidden")
        batch.drop_column("citations")
        batch.drop_column("sheet_answer")
        batch.drop_column("sheet_question")
        batch.drop_column("sheet_doc_id")
