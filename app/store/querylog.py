"""The query log: one row per question from any origin (API, Slack, CLI, eval), in SQLite (WAL) or PostgreSQL, schema by Alembic.

Every write commits before the method returns, so a question the bot acknowledged is on disk. Writers on
SQLite take the write lock up front (`BEGIN IMMEDIATE`) and wait for each other (busy timeout); on PostgreSQL
read-modify-write updates lock the row (`SELECT … FOR UPDATE`). Methods return plain `QueryRecord`s.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from app.clock import as_utc, utcnow
from app.errors import BadRequestError, NotFoundError
from app.store.accounts import StaffAccounts
from app.store.adapters import AdapterVersions
from app.store.audit import AuditTrail
from app.store.departments import Departments
from app.store.groupcommit import GroupCommit
from app.store.private import private_dir, private_file
from app.store.querylog_faq import FaqEntries
from app.store.querylog_retention import aggregate_stat_rows, forget_asker, purge_before
from app.store.querylog_schema import claimed_events, queries
from app.store.querylog_webhooks import WebhookDeliveries
from app.types import ESCALATION_REASONS, OUTCOMES

if TYPE_CHECKING:  # type-only: answering (app.answer) writes into this log through `Services`
    from app.result import AnswerResult
    from app.settings import Settings

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
_MIGRATION_LOCK_ID = 0x6D61646F  # "mado": pg_advisory_xact_lock key serialising start-up migrations
EVENT_RETENTION = timedelta(days=2)


@dataclass
class QueryRecord:
    id: str
    created_at: datetime
    origin: str  # where the question came from: api | slack | cli | eval … (column and API field `channel`)
    user_id: str | None
    question: str
    answer: str
    category: str | None
    outcome: str
    escalation_reason: str | None
    confidence: float
    sources: list[dict]
    latency_ms: float
    language: str
    prompt_version: str | None
    corpus_version: int | None
    helpful: bool | None = None
    feedback_at: datetime | None = None
    escalated_at: datetime | None = None
    resolution: str | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    meta: dict = field(default_factory=dict)
    assignee: str | None = None  # the staff member handling it (「担当する」 in Slack)
    assigned_at: datetime | None = None

    @property
    def query_id(self) -> str:
        return self.id

    @property
    def feedback(self) -> str:
        return "none" if self.helpful is None else ("helpful" if self.helpful else "not_helpful")

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None

    def to_dict(self) -> dict:
        """The admin API's JSON shape (the origin keeps its public name `channel`)."""
        out = asdict(self)
        out = {("channel" if k == "origin" else k): v for k, v in out.items()}
        for key in ("created_at", "feedback_at", "escalated_at", "resolved_at", "assigned_at"):
            out[key] = out[key].isoformat() if out[key] else None
        out["feedback"] = self.feedback
        return out

    @classmethod
    def from_row(cls, row: Any) -> QueryRecord:
        m = row._mapping
        return cls(
            id=m["id"],
            created_at=as_utc(m["created_at"]),
            origin=m["channel"],
            user_id=m["user_id"],
            question=m["question"],
            answer=m["answer"],
            category=m["category"],
            outcome=m["outcome"],
            escalation_reason=m["escalation_reason"],
            confidence=float(m["confidence"]),
            sources=list(m["sources"] or []),
            latency_ms=float(m["latency_ms"]),
            language=m["language"],
            prompt_version=m["prompt_version"],
            corpus_version=m["corpus_version"],
            helpful=m["helpful"],
            feedback_at=as_utc(m["feedback_at"]),
            escalated_at=as_utc(m["escalated_at"]),
            resolution=m["resolution"],
            resolved_by=m["resolved_by"],
            resolved_at=as_utc(m["resolved_at"]),
            meta=dict(m["meta"] or {}),
            assignee=m.get("assignee"),
            assigned_at=as_utc(m.get("assigned_at")),
        )


@dataclass
class QueryFilter:
    """Filters of the admin list, the CSV export and the stats. `since` inclusive, `until` exclusive."""

    outcome: str | None = None  # answered | escalated
    category: str | None = None  # `other` also matches questions without a category
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None  # substring of the question
    feedback: str | None = None  # helpful | not_helpful | none
    resolved: bool | None = None
    origin: str | None = None  # api | slack | cli | …
    unresolved: bool = False  # the 「未解決の質問」 list: escalated or marked unhelpful, and not resolved

    def where(self) -> list:
        t = queries.c
        clauses: list = []
        if self.outcome:
            if self.outcome not in OUTCOMES:
                raise BadRequestError(
                    f"Unknown outcome {self.outcome!r}; use answered or escalated.",
                    f"不明な outcome {self.outcome!r} です。answered か escalated を指定してください。",
                    code="bad_outcome",
                )
            clauses.append(t.outcome == self.outcome)
        if self.category:
            clauses.append(
                sa.or_(t.category == "other", t.category.is_(None))
                if self.category == "other"
                else t.category == self.category
            )
        # SQLite keeps the wall time only, so every bound goes in as UTC (as the rows were written).
        if self.since is not None:
            clauses.append(t.created_at >= as_utc(self.since))
        if self.until is not None:
            clauses.append(t.created_at < as_utc(self.until))
        if self.q:
            clauses.append(t.question.icontains(self.q, autoescape=True))
        if self.feedback:
            mapping = {"helpful": t.helpful.is_(True), "not_helpful": t.helpful.is_(False), "none": t.helpful.is_(None)}
            if self.feedback not in mapping:
                raise BadRequestError(
                    f"Unknown feedback {self.feedback!r}; use helpful, not_helpful or none.",
                    f"不明な feedback {self.feedback!r} です。helpful / not_helpful / none を指定してください。",
                    code="bad_feedback",
                )
            clauses.append(mapping[self.feedback])
        if self.resolved is not None:
            clauses.append(t.resolved_at.is_not(None) if self.resolved else t.resolved_at.is_(None))
        if self.origin:
            clauses.append(t.channel == self.origin)
        if self.unresolved:
            clauses.append(sa.and_(t.resolved_at.is_(None), sa.or_(t.outcome == "escalated", t.helpful.is_(False))))
        return clauses


def follow_up_hash(token: str) -> str:
    """What the log keeps of a follow-up token: its SHA-256 (the token is a 256-bit random secret, so no salt)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _sources_json(sources) -> list[dict]:
    out = []
    for s in sources or []:
        d = asdict(s) if hasattr(s, "__dataclass_fields__") else dict(s)
        out.append(d)
    return out


class QueryLog:
    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = _make_engine(url)
        self._sqlite_write_lock = threading.Lock()
        self._group = GroupCommit(self._record_batch)
        self.faq = FaqEntries(self)
        self.webhook_deliveries = WebhookDeliveries(self)
        self.adapters = AdapterVersions(self)
        self.accounts = StaffAccounts(self)  # staff accounts, sessions, tokens, failed logins
        self.audit = AuditTrail(self)  # who changed what
        self.departments = Departments(self)  # user → department (the report's 部署別)
        if migrate:
            self.migrate()

    @classmethod
    def from_settings(cls, settings: Settings) -> QueryLog:
        """SQLite file `madoguchi.db` in MADOGUCHI_DATA_DIR, or MADOGUCHI_DATABASE_URL; migrated to head."""
        if not settings.database_url:
            private_file(private_dir(Path(settings.data_dir)) / "madoguchi.db")  # 0700 folder, 0600 database
        return cls(settings.sqlalchemy_url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # --- plumbing ---
    @contextlib.contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction: committed when the block ends (SQLite: write lock taken at BEGIN)."""
        # SQLite: threads of this process queue here instead of in SQLite's busy handler, which sleeps in steps.
        with self._sqlite_write_lock if self.dialect == "sqlite" else contextlib.nullcontext():
            with self.engine.connect() as conn:
                conn.execution_options(madoguchi_write=True)
                with conn.begin():
                    yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn:
            with conn.begin():
                yield conn

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision; concurrent start-ups wait for each other."""
        from alembic import command  # deferred: only start-up migrations need alembic
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.write() as conn:
            if self.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_ID})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def schema_revision(self) -> str | None:
        with self.read() as conn:
            try:
                return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            except sa.exc.DBAPIError:
                return None

    def close(self) -> None:
        self.engine.dispose()

    # --- writing ---
    def record(self, result: AnswerResult, *, meta: dict | None = None, created_at: datetime | None = None) -> None:
        """Store one answered/escalated question (an `AnswerResult`). Committed before returning.
        `created_at` (aware) replaces "now" when importing or seeding an older log."""
        now = as_utc(created_at) if created_at is not None else utcnow()
        values: dict[str, Any] = {
            "created_at": now,
            "channel": (result.origin or "api")[:32],  # the origin (the column keeps its old name)
            "user_id": result.user_id,
            "question": result.question or "",
            "answer": result.answer or "",
            "category": result.category,
            "outcome": result.outcome,
            "escalation_reason": result.escalation_reason,
            "escalated_at": now if result.outcome == "escalated" else None,
            "confidence": float(result.confidence or 0.0),
            "sources": _sources_json(result.sources),
            "latency_ms": float(result.latency_ms or 0.0),
            "language": result.language or "ja",
            "prompt_version": result.prompt_version,
            "corpus_version": result.corpus_version,
            "meta": dict(meta or {}),
        }
        token = getattr(result, "follow_up_token", None)
        if token:
            values["follow_up_hash"] = follow_up_hash(token)
        self._group.write((result.query_id, values))

    def _record_batch(self, rows: list[tuple[str, dict[str, Any]]]) -> list[BaseException | None]:
        """Group commit's writer (app/store/groupcommit.py): every row in one transaction; if that fails (say one
        id was written before), each row alone, so one row's problem is that row's alone."""
        if len(rows) > 1:
            try:
                shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}  # executemany needs one set of columns
                for qid, values in rows:
                    shapes.setdefault(tuple(sorted(values)), []).append({"id": qid, **values})
                with self.write() as conn:
                    for same in shapes.values():
                        conn.execute(queries.insert(), same)
                return [None] * len(rows)
            except Exception:  # noqa: BLE001 - retried row by row below, where each error is reported to its caller
                logger.info("query log: a batch of %d rows failed; writing them one by one", len(rows))
        errors: list[BaseException | None] = []
        for qid, values in rows:
            try:
                self._record_one(qid, dict(values))
                errors.append(None)
            except Exception as exc:  # noqa: BLE001 - handed to the caller of this row
                errors.append(exc)
        return errors

    def _record_one(self, query_id: str, values: dict[str, Any]) -> None:
        try:
            with self.write() as conn:
                conn.execute(queries.insert().values(id=query_id, **values))
        except IntegrityError:
            # The same query id again (a retried write): keep the first time, update the rest, merge meta.
            with self.write() as conn:
                old = self._get_for_update(conn, query_id)
                values.pop("created_at")
                values["meta"] = {**old.meta, **values["meta"]}
                conn.execute(queries.update().where(queries.c.id == query_id).values(**values))

    def _get_for_update(self, conn: sa.Connection, query_id: str) -> QueryRecord:
        stmt = sa.select(queries).where(queries.c.id == query_id)
        if self.dialect != "sqlite":
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).first()
        if row is None:
            raise NotFoundError(
                f"No question with id {query_id!r} in the log.",
                f"ID {query_id!r} の質問は記録にありません。",
                code="query_not_found",
            )
        return QueryRecord.from_row(row)

    def _update(self, query_id: str, build) -> QueryRecord:
        """Read the row locked, let `build(record)` return new column values, write them; returns the new record."""
        with self.write() as conn:
            current = self._get_for_update(conn, query_id)
            values = build(current)
            if values:
                conn.execute(queries.update().where(queries.c.id == query_id).values(**values))
            row = conn.execute(sa.select(queries).where(queries.c.id == query_id)).first()
        return QueryRecord.from_row(row)

    def set_feedback(self, query_id: str, helpful: bool) -> QueryRecord:
        """Record 👍/👎 (the latest click wins). Raises NotFoundError for an unknown id."""
        return self._update(query_id, lambda r: {"helpful": bool(helpful), "feedback_at": utcnow()})

    def escalate(self, query_id: str, reason: str) -> QueryRecord:
        """Turn a question into an escalated one (reason: user_request | not_helpful | error | low_confidence)."""
        if reason not in ESCALATION_REASONS:
            raise BadRequestError(
                f"Unknown escalation reason {reason!r}; use one of {', '.join(ESCALATION_REASONS)}.",
                f"不明なエスカレーション理由 {reason!r} です。",
                code="bad_reason",
            )

        def build(r: QueryRecord) -> dict:
            values: dict[str, Any] = {"outcome": "escalated", "escalation_reason": reason}
            if r.escalated_at is None or r.outcome != "escalated":
                values["escalated_at"] = utcnow()
            return values

        return self._update(query_id, build)

    def update_meta(self, query_id: str, **values) -> QueryRecord:
        """Merge keys into the row's JSON `meta` (e.g. Slack channel / thread / escalation post ids)."""
        return self._update(query_id, lambda r: {"meta": {**r.meta, **values}})

    def resolve(self, query_id: str, *, answer: str, by: str | None = None, at: datetime | None = None) -> QueryRecord:
        """Record the staff's answer (`at`, aware, replaces "now" when importing or seeding an older log).
        Relaying it (resolution hooks) is the caller's job."""
        text = (answer or "").strip()
        if not text:
            raise BadRequestError("The answer is empty.", "回答が空です。", code="empty_answer")
        when = as_utc(at) if at is not None else utcnow()
        return self._update(query_id, lambda r: {"resolution": text, "resolved_by": by, "resolved_at": when})

    def assign(self, query_id: str, assignee: str) -> QueryRecord:
        """Record who handles the question (the latest claim wins)."""
        return self._update(query_id, lambda r: {"assignee": assignee[:200], "assigned_at": utcnow()})

    def follow_up_hash_of(self, query_id: str) -> str | None:
        """The stored hash of the question's follow-up token (None: unknown question, or asked before tokens)."""
        with self.read() as conn:
            return conn.execute(sa.select(queries.c.follow_up_hash).where(queries.c.id == query_id)).scalar()

    def claim_event(self, key: str) -> bool:
        """True the first time `key` is seen (by any process sharing this database), False afterwards."""
        if len(key) > 255:
            key = "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()
        now = utcnow()
        try:
            with self.write() as conn:
                conn.execute(claimed_events.insert().values(key=key, claimed_at=now))
                # Retries come within minutes; keep the table small.
                conn.execute(claimed_events.delete().where(claimed_events.c.claimed_at < now - EVENT_RETENTION))
        except IntegrityError:
            return False
        return True

    # --- reading ---
    def get(self, query_id: str) -> QueryRecord | None:
        with self.read() as conn:
            row = conn.execute(sa.select(queries).where(queries.c.id == query_id)).first()
        return QueryRecord.from_row(row) if row is not None else None

    def get_many(self, ids: list[str]) -> list[QueryRecord]:
        if not ids:
            return []
        with self.read() as conn:
            rows = conn.execute(sa.select(queries).where(queries.c.id.in_(list(ids)))).all()
        by_id = {r.id: QueryRecord.from_row(r) for r in rows}
        return [by_id[i] for i in ids if i in by_id]

    def of_asker(self, user_id: str, *, limit: int = 50) -> list[QueryRecord]:
        """One asker's questions, newest first (the Slack App Home)."""
        stmt = (
            sa.select(queries)
            .where(queries.c.user_id == user_id)
            .order_by(queries.c.created_at.desc(), queries.c.id)
            .limit(limit)
        )
        with self.read() as conn:
            return [QueryRecord.from_row(r) for r in conn.execute(stmt)]

    def find_by_meta(self, key: str, value) -> QueryRecord | None:
        """The newest question whose meta[key] equals `value` (compared as text)."""
        stmt = (
            sa.select(queries)
            .where(queries.c.meta[key].as_string() == str(value))
            .order_by(queries.c.created_at.desc())
            .limit(1)
        )
        with self.read() as conn:
            row = conn.execute(stmt).first()
        return QueryRecord.from_row(row) if row is not None else None

    def count(self, flt: QueryFilter | None = None) -> int:
        stmt = sa.select(sa.func.count()).select_from(queries).where(*(flt or QueryFilter()).where())
        with self.read() as conn:
            return int(conn.execute(stmt).scalar() or 0)

    def search(self, flt: QueryFilter | None = None, *, offset: int = 0, limit: int | None = 50) -> list[QueryRecord]:
        """Newest first."""
        stmt = (
            sa.select(queries)
            .where(*(flt or QueryFilter()).where())
            .order_by(queries.c.created_at.desc(), queries.c.id)
        )
        if offset:
            stmt = stmt.offset(offset)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.read() as conn:
            return [QueryRecord.from_row(r) for r in conn.execute(stmt)]

    def iter_records(self, flt: QueryFilter | None = None, *, batch: int = 500) -> Iterator[QueryRecord]:
        """Every matching record, newest first, fetched in pages (for the CSV export)."""
        offset = 0
        while True:
            rows = self.search(flt, offset=offset, limit=batch)
            yield from rows
            if len(rows) < batch:
                return
            offset += batch

    def stat_rows(self, flt: QueryFilter | None = None) -> list[tuple]:
        """(created_at, category, outcome, helpful, escalated_at, resolved_at, user_id) of matching questions: the
        input of the stats."""
        t = queries.c
        stmt = (
            sa.select(t.created_at, t.category, t.outcome, t.helpful, t.escalated_at, t.resolved_at, t.user_id)
            .where(*(flt or QueryFilter()).where())
            .order_by(t.created_at)
        )
        with self.read() as conn:
            rows = [(as_utc(r[0]), r[1], r[2], r[3], as_utc(r[4]), as_utc(r[5]), r[6]) for r in conn.execute(stmt)]
        kept = aggregate_stat_rows(self, flt)  # counts of purged or forgotten questions (querylog_retention.py)
        return sorted(rows + kept, key=lambda r: r[0]) if kept else rows

    # --- retention and deletion (app/store/querylog_retention.py) ---
    def purge_before(self, cutoff: datetime, *, tz: ZoneInfo) -> int:
        return purge_before(self, cutoff, tz=tz)

    def forget_asker(self, user_id: str, *, tz: ZoneInfo) -> int:
        return forget_asker(self, user_id, tz=tz)


def _make_engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=8, max_overflow=16
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised by every SQLite test
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            # Writers take the lock at BEGIN so two read-then-write transactions cannot deadlock each other.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("madoguchi_write") else "BEGIN")

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
