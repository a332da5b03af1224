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
    # 0011: the hash of the asker's follow-up token (the token itself is never stored), who handles the question
    sa.Column("follow_up_hash", sa.String(64)),
    sa.Column("assignee", sa.String(200)),
    sa.Column("assigned_at", sa.DateTime(timezone=True)),
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

webhook_deliveries = sa.Table(  # 0011: every attempt of the outgoing webhook (app/ops/webhooks.py)
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.String(64), nullable=False),  # one event's delivery; its attempts share it
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("query_id", sa.String(64)),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
)

webhook_outbox = sa.Table(  # 0011: webhook events not yet delivered nor given up (resumed when a server starts)
    "webhook_outbox",
    metadata,
    sa.Column("delivery_id", sa.String(64), primary_key=True),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("query_id", sa.String(64)),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("done_at", sa.DateTime(timezone=True)),
)

adapter_versions = sa.Table(
    "adapter_versions",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("embedder", sa.String(200), nullable=False),
    sa.Column("matrix", sa.LargeBinary, nullable=False),  # QueryAdapter.to_bytes()
    sa.Column("pairs", sa.Integer, nullable=False),  # training pairs it was fitted on
    sa.Column("heldout", sa.Integer, nullable=False),  # held-out questions of the swap check
    sa.Column("heldout_hit1_before", sa.Float),
    sa.Column("heldout_hit1_after", sa.Float),
    sa.Column("swapped", sa.Boolean, nullable=False),  # passed the held-out check and was swapped in
    sa.Column("active", sa.Boolean, nullable=False),  # at most one row is active: the one every replica serves
    sa.Column("rolled_back_at", sa.DateTime(timezone=True)),
    sa.Column("created_by", sa.String(200)),
    sa.Column("note", sa.Text),
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
departments = sa.Table(
    "departments",
    metadata,
    sa.Column("user_id", sa.String(200), primary_key=True),  # the asker's id as logged (Slack user id, API user_id)
    sa.Column("department", sa.String(200), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_by", sa.String(200)),
)

# Counts of questions no longer in `queries` (purged by MADOGUCHI_LOG_RETENTION_DAYS or forgotten on request), per
# month of the configured time zone ("YYYY-MM"), origin, category ("" for none) and outcome: the stats keep them.
monthly_aggregates = sa.Table(
    "monthly_aggregates",
    metadata,
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("channel", sa.String(32), primary_key=True),
    sa.Column("category", sa.String(32), primary_key=True),
    sa.Column("outcome", sa.String(16), primary_key=True),
    sa.Column("helpful_yes", sa.Integer, nullable=False),
    sa.Column("helpful_no", sa.Integer, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
)

# Token buckets of the abuse limits when every replica shares them (MADOGUCHI_RATE_LIMIT_SHARED): key → tokens left
# at `at` (Unix time). app/store/ratebuckets.py.
rate_buckets = sa.Table(
    "rate_buckets",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("tokens", sa.Float, nullable=False),
    sa.Column("at", sa.Float, nullable=False, index=True),
)
