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
)

# --- staff accounts, sessions, personal tokens, login failures, audit trail (migration 0013) ---
staff_users = sa.Table(
    "staff_users",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

staff_sessions = sa.Table(
    "staff_sessions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # sha256 of the cookie's secret
    sa.Column("actor", sa.String(64), nullable=False, index=True),  # an account name, or "admin-token"
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("token_fp", sa.String(64)),  # admin-token sessions: fingerprint of the token they were opened with
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # sha256 of the token
    sa.Column("user_name", sa.String(64), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

login_failures = sa.Table(
    "login_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(255), nullable=False, index=True),  # "account:NAME" or "ip:ADDRESS"
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("actor", sa.String(64), nullable=False, index=True),
    sa.Column("action", sa.String(64), nullable=False, index=True),
    sa.Column("target_type", sa.String(32), nullable=False),
    sa.Column("target_id", sa.String(255), nullable=False),
    sa.Column("before", sa.JSON),
    sa.Column("after", sa.JSON),
)
sa.Index("ix_audit_log_target", audit_log.c.target_type, audit_log.c.target_id)
