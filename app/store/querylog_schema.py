"""Tables of the query log database (SQLAlchemy Core). The schema itself is created by the Alembic migrations in
`app/store/migrations/versions/`; these definitions are what the code queries and must match the latest migration."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

queries = sa.Table(
    "queries",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("user_id", sa.String(200)),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("category", sa.String(32), index=True),
    sa.Column("outcome", sa.String(16), nullable=False, index=True),
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

claimed_events = sa.Table(
    "claimed_events",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

faq_entries = sa.Table(
    "faq_entries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.String(200)),
    sa.Column("source_query_id", sa.String(64)),
    sa.Column("sheet_doc_id", sa.String(512)),  # set: this entry overrides a row of an ingested FAQ sheet
    sa.Column("sheet_question", sa.Text),
    sa.Column("sheet_answer", sa.Text),  # the sheet row's answer when it was overridden
    sa.Column("citations", sa.JSON),  # articles the answer rests on: [{doc_id, source, section, hash}]
    sa.Column("hidden", sa.Boolean, nullable=False, server_default=sa.false()),  # a deleted sheet row's tombstone
)

faq_wordings = sa.Table(
    "faq_wordings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("entry_id", sa.Integer, sa.ForeignKey("faq_entries.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.String(200)),
    sa.Column("source_query_id", sa.String(64)),
)

faq_wording_proposals = sa.Table(
    "faq_wording_proposals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("entry_id", sa.Integer, sa.ForeignKey("faq_entries.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("query_id", sa.String(64)),
    sa.Column("status", sa.String(16), nullable=False, index=True),  # pending | accepted | rejected
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    sa.Column("decided_by", sa.String(200)),
)
