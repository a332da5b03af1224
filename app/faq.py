"""What the staff do with the log: FAQ entries (database = source of truth, chunk store = searchable copy) and
resolving questions (record the staff answer, relay it through `services.resolution_hooks`, optionally turn it
into an FAQ entry). Shared by the admin API and the staff console.

An FAQ entry is indexed as its own document `faq:{id}` (kind "faq") the moment it is saved, under the ingest
lock, and the corpus version is bumped so every server reloads: the next question can be answered from it.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
from dataclasses import dataclass, field

from app.errors import BadRequestError, NotFoundError
from app.store.querylog import QueryRecord
from app.store.querylog_faq import FaqEntry

logger = logging.getLogger(__name__)

MAX_FAQ_QUESTION = 2000
MAX_FAQ_ANSWER = 20000


def faq_hash(question: str, answer: str, category: str) -> str:
    return hashlib.sha256(f"{question}\x1f{answer}\x1f{category}".encode("utf-8")).hexdigest()


def clean_faq(question: str | None, answer: str | None, category: str | None) -> tuple[str, str, str]:
    """Validate one entry: non-empty question and answer, a known category (empty → other)."""
    from app.answer import validate_category

    q = (question or "").strip()
    a = (answer or "").strip()
    if not q or not a:
        raise BadRequestError("An FAQ entry needs a question and an answer.", "FAQ には質問と回答の両方が必要です。", code="faq_incomplete")
    if len(q) > MAX_FAQ_QUESTION or len(a) > MAX_FAQ_ANSWER:
        raise BadRequestError(
            f"FAQ entry too long (question ≤ {MAX_FAQ_QUESTION}, answer ≤ {MAX_FAQ_ANSWER} characters).",
            f"FAQ が長すぎます（質問 {MAX_FAQ_QUESTION} 文字、回答 {MAX_FAQ_ANSWER} 文字まで）。", code="faq_too_long",
        )
    return q, a, validate_category(category) or "other"


def require_log(services):
    if services.query_log is None:
        raise NotFoundError("The query log is not configured.", "質問ログが設定されていません。", code="no_query_log")
    return services.query_log


# --- the searchable copy ---
def _index_entries(services, entries: list[FaqEntry]) -> None:
    from ingest.chunker import chunk_document
    from ingest.loaders import FaqRow, LoadedDocument
    from ingest.pipeline import index_document

    for e in entries:
        doc = LoadedDocument(title="FAQ", faq=[FaqRow(question=e.question, answer=e.answer, category=e.category)], category=e.category)
        index_document(
            store=services.store, embedder=services.embedder, tokenizer=services.tokenizer, doc_id=e.doc_id, source="FAQ",
            doc=doc, drafts=chunk_document(doc), doc_hash=faq_hash(e.question, e.answer, e.category), category=e.category,
            kind="faq",
        )


def _publish(services, *, index: list[FaqEntry] = (), remove: list[str] = ()) -> None:
    """Write/remove FAQ documents under the ingest lock, bump the corpus version, reload the snapshot."""
    from ingest.pipeline import remove_document

    if not index and not remove:
        return
    with services.ingest_lock:
        _index_entries(services, list(index))
        for doc_id in remove:
            remove_document(store=services.store, doc_id=doc_id)
        services.store.bump_version(embedder=services.embedder.name)
    services.index.refresh()


def faq_index_drift(services, entries: list[FaqEntry]) -> tuple[list[FaqEntry], list[str]]:
    """(entries whose searchable copy is missing or outdated, FAQ documents with no entry behind them)."""
    manifest = {d: r for d, r in services.store.manifest().items() if r.kind == "faq" and d.startswith("faq:")}
    stale = [e for e in entries if (r := manifest.get(e.doc_id)) is None or r.hash != faq_hash(e.question, e.answer, e.category)
             or r.status != "ok" or r.embedder != services.embedder.name]
    wanted = {e.doc_id for e in entries}
    return stale, [d for d in manifest if d not in wanted]


def sync_faq_index(services) -> dict:
    """Make the chunk store match the database: index missing/changed entries, drop orphans. Returns counts."""
    entries = require_log(services).faq.list()
    stale, orphans = faq_index_drift(services, entries)
    _publish(services, index=stale, remove=orphans)
    return {"indexed": len(stale), "removed": len(orphans), "entries": len(entries)}


# --- CRUD ---
def create_faq_entry(services, *, question: str, answer: str, category: str | None, created_by: str | None = None,
                     source_query_id: str | None = None) -> FaqEntry:
    q, a, cat = clean_faq(question, answer, category)
    entry = require_log(services).faq.create(question=q, answer=a, category=cat, created_by=created_by, source_query_id=source_query_id)
    _publish(services, index=[entry])
    return entry


def update_faq_entry(services, entry_id: int, *, question: str, answer: str, category: str | None) -> FaqEntry:
    q, a, cat = clean_faq(question, answer, category)
    entry = require_log(services).faq.update(entry_id, question=q, answer=a, category=cat)
    _publish(services, index=[entry])
    return entry


def delete_faq_entry(services, entry_id: int) -> FaqEntry:
    entry = require_log(services).faq.delete(entry_id)
    _publish(services, remove=[entry.doc_id])
    return entry


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict] = field(default_factory=list)  # {"row": n, "error": en, "error_ja": ja}

    def to_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged, "errors": self.errors}


def import_faq_rows(services, rows: list[tuple[int, dict]], *, created_by: str | None = None) -> ImportReport:
    """(row number, {question, answer, category}) pairs, numbered as in the file (header = 1). A row whose question equals an
    existing entry's question updates it, so re-importing an export does not duplicate anything."""
    log = require_log(services)
    report = ImportReport()
    by_question = {e.question: e for e in log.faq.list()}
    touched: list[FaqEntry] = []
    for number, row in rows:
        try:
            q, a, cat = clean_faq(row.get("question"), row.get("answer"), row.get("category"))
        except BadRequestError as exc:
            report.errors.append({"row": number, "error": exc.detail_en, "error_ja": exc.detail_ja})
            continue
        old = by_question.get(q)
        if old is None:
            entry = log.faq.create(question=q, answer=a, category=cat, created_by=created_by)
            report.created += 1
        elif (old.answer, old.category) == (a, cat):
            report.unchanged += 1
            continue
        else:
            entry = log.faq.update(old.id, question=q, answer=a, category=cat)
            report.updated += 1
        by_question[q] = entry
        touched.append(entry)
    _publish(services, index=touched)
    return report


# --- resolving questions ---
@dataclass
class Resolution:
    records: list[QueryRecord]
    faq: FaqEntry | None = None
    relayed: int = 0
    relay_errors: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "queries": [r.to_dict() for r in self.records],
            "faq": self.faq.to_dict() if self.faq else None,
            "relayed": self.relayed,
            "relay_errors": self.relay_errors,
        }


async def run_resolution_hooks(services, record: QueryRecord, answer_text: str) -> tuple[int, list[dict]]:
    """Call every `hook(record, answer)` (sync hooks in a worker thread). A hook returns True when it delivered the
    answer (e.g. posted it to the Slack asker) and None/False when the question was not its to deliver; those True
    are counted. A failing hook is logged and reported, never undoes the resolution."""
    done, errors = 0, []
    for hook in list(getattr(services, "resolution_hooks", []) or []):
        try:
            if inspect.iscoroutinefunction(hook):
                out = await hook(record, answer_text)
            else:
                out = await asyncio.to_thread(hook, record, answer_text)
                if inspect.isawaitable(out):
                    out = await out
            done += out is True
        except Exception as exc:  # noqa: BLE001 - one relay failing must not hide the others
            logger.exception("resolution hook %r failed for query %s", hook, record.id)
            errors.append({"query_id": record.id, "hook": getattr(hook, "__name__", repr(hook)), "error": str(exc)})
    return done, errors


async def resolve_questions(services, query_ids: list[str], *, answer: str, by: str | None = None, add_to_faq: bool = False,
                            faq_question: str | None = None, category: str | None = None) -> Resolution:
    """Resolve one or more questions with one staff answer, relay it to each asker, and optionally save one FAQ entry
    (its question: `faq_question` or the first question; its category: `category` or the first one's)."""
    log = require_log(services)
    text = (answer or "").strip()
    if not text:
        raise BadRequestError("The answer is empty.", "回答が空です。", code="empty_answer")
    if not query_ids:
        raise BadRequestError("No question selected.", "質問が選択されていません。", code="no_queries")
    records = [log.get(i) for i in query_ids]
    missing = [i for i, r in zip(query_ids, records) if r is None]
    if missing:
        raise NotFoundError(f"No question with id {missing[0]!r} in the log.", f"ID {missing[0]!r} の質問は記録にありません。", code="query_not_found")
    faq = None
    if add_to_faq:
        first = records[0]
        # Validate before anything is written, so a bad category does not leave half a resolution behind.
        clean_faq(faq_question or first.question, text, category or first.category)
    out = Resolution(records=[])
    for qid in query_ids:
        record = await asyncio.to_thread(log.resolve, qid, answer=text, by=by)
        out.records.append(record)
        n, errs = await run_resolution_hooks(services, record, text)
        out.relayed += n
        out.relay_errors.extend(errs)
    if add_to_faq:
        first = out.records[0]
        faq = await asyncio.to_thread(
            create_faq_entry, services, question=faq_question or first.question, answer=text,
            category=category or first.category, created_by=by, source_query_id=first.id,
        )
        out.faq = faq
    return out
