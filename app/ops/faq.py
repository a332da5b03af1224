"""FAQ entries: the database is the source of truth, the chunk store holds their searchable copy.

An FAQ entry is indexed as its own document `faq:{id}` (kind "faq") the moment it is saved, under the ingest
lock, and the corpus version is bumped so every server reloads: the next question can be answered from it.
Shared by the admin API, the staff console, resolutions (「FAQ に登録する」) and the server's start-up check.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.answer import validate_category
from app.errors import BadRequestError, NotFoundError
from app.ops.audit import record_audit
from app.ops.downloads import CSV_TYPE, XLSX_TYPE, Export
from app.ops.faq_files import faq_csv, faq_xlsx, read_faq_file
from app.ops.reembed import raise_if_reembedding
from app.services import Services
from app.store.audit import AuditEntry, AuditFilter
from app.store.querylog_faq import FaqEntry
from ingest.chunker import chunk_document
from ingest.loaders import FaqRow, LoadedDocument
from ingest.pipeline import Prepared, index_many, remove_document
from ingest.writer import EditionWriter, ids_by_document

logger = logging.getLogger(__name__)

MAX_FAQ_QUESTION = 2000
MAX_FAQ_ANSWER = 20000
MAX_IMPORT_BYTES = 20 * 1024 * 1024


def faq_hash(question: str, answer: str, category: str, wordings: Sequence[str] = ()) -> str:
    """The searchable copy's hash (an entry without wordings keeps the hash it had before wordings existed)."""
    extra = "".join(f"\x1e{w}" for w in wordings)
    return hashlib.sha256(f"{question}\x1f{answer}\x1f{category}{extra}".encode()).hexdigest()


def entry_hash(e: FaqEntry) -> str:
    extra = [f"\x1doverrides:{e.overrides}"] if e.overrides else []
    extra += ["\x1dhidden"] if e.hidden else []
    extra += [f"\x1dcites:{c.get('doc_id')}\x1f{c.get('section')}\x1f{c.get('hash')}" for c in e.citations]
    return faq_hash(e.question, e.answer, e.category, [*e.wordings, *extra])


def entry_meta(e: FaqEntry) -> dict | None:
    """What the searchable copy carries besides the text: the sheet row it overrides, the articles it cites."""
    meta: dict = {}
    if e.overrides:
        meta["overrides"] = e.overrides
    if e.hidden:
        meta["hidden"] = "1"
    if e.citations:
        meta["cites"] = json.dumps([[c.get("doc_id"), c.get("section"), c.get("hash")] for c in e.citations])
    return meta or None


def clean_wording(wording: str | None) -> str:
    w = (wording or "").strip()
    if not w:
        raise BadRequestError("The wording is empty.", "言い換えが空です。", code="empty_wording")
    if len(w) > MAX_FAQ_QUESTION:
        raise BadRequestError(
            f"Wording too long (≤ {MAX_FAQ_QUESTION} characters).",
            f"言い換えが長すぎます（{MAX_FAQ_QUESTION} 文字まで）。",
            code="wording_too_long",
        )
    return w


def clean_faq(question: str | None, answer: str | None, category: str | None) -> tuple[str, str, str]:
    """Validate one entry: non-empty question and answer, a known category (empty → other)."""
    q = (question or "").strip()
    a = (answer or "").strip()
    if not q or not a:
        raise BadRequestError(
            "An FAQ entry needs a question and an answer.",
            "FAQ には質問と回答の両方が必要です。",
            code="faq_incomplete",
        )
    if len(q) > MAX_FAQ_QUESTION or len(a) > MAX_FAQ_ANSWER:
        raise BadRequestError(
            f"FAQ entry too long (question ≤ {MAX_FAQ_QUESTION}, answer ≤ {MAX_FAQ_ANSWER} characters).",
            f"FAQ が長すぎます（質問 {MAX_FAQ_QUESTION} 文字、回答 {MAX_FAQ_ANSWER} 文字まで）。",
            code="faq_too_long",
        )
    return q, a, validate_category(category) or "other"


# --- reading ---
def list_entries(services: Services, *, q: str | None = None, category: str | None = None) -> list[FaqEntry]:
    return services.require_log().faq.list(q=q, category=category)


def get_entry(services: Services, entry_id: int) -> FaqEntry:
    return services.require_log().faq.require(entry_id)


# --- the searchable copy ---
def entry_drafts(e: FaqEntry, doc: LoadedDocument) -> list:
    """One chunk per question of the entry (canonical + wordings), all in the canonical question's section, so the
    wordings match lexically and densely on the question field yet retrieval sees one passage: one entry."""
    drafts = chunk_document(doc)
    faq_drafts = [d for d in drafts if d.kind == "faq"]
    if faq_drafts:
        for d in faq_drafts[1:]:
            d.section = faq_drafts[0].section
    return drafts


def _index_entries(services: Services, entries: Sequence[FaqEntry]) -> None:
    """Index entries; many at once (an import, a re-index) are embedded and written in groups, as the ingest does."""
    items = []
    for e in entries:
        doc = LoadedDocument(
            title="FAQ",
            faq=[FaqRow(question=q, answer=e.answer, category=e.category) for q in e.questions],
            category=e.category,
        )
        items.append(
            Prepared(
                doc_id=e.doc_id,
                source="FAQ",
                doc=doc,
                drafts=entry_drafts(e, doc),
                doc_hash=entry_hash(e),
                category=e.category,
                kind="faq",
                extra_meta=entry_meta(e) or {},
            )
        )
    if not items:
        return
    store = services.store
    if len(items) == 1:
        old = {items[0].doc_id: store.chunk_ids_of(items[0].doc_id)}
    else:
        old = ids_by_document(store.all_chunk_ids())
    writer = EditionWriter(store, ids_by_doc=old)
    index_many(items, embedder=services.embedder, tokenizer=services.tokenizer, writer=writer)
    writer.flush()


def _publish(services: Services, *, index: Sequence[FaqEntry] = (), remove: Sequence[str] = ()) -> None:
    """Write/remove FAQ documents under the ingest lock, bump the corpus version, reload the snapshot."""
    if not index and not remove:
        return
    raise_if_reembedding(services)  # 409 now rather than waiting for the whole re-embed
    with services.ingest_lock:
        _index_entries(services, index)
        for doc_id in remove:
            remove_document(store=services.store, doc_id=doc_id)
        services.store.bump_version(embedder=services.embedder.name)
    services.index.refresh()


def index_drift(services: Services, entries: list[FaqEntry]) -> tuple[list[FaqEntry], list[str]]:
    """(entries whose searchable copy is missing or outdated, FAQ documents with no entry behind them)."""
    manifest = {d: r for d, r in services.store.manifest().items() if r.kind == "faq" and d.startswith("faq:")}
    stale = [
        e
        for e in entries
        if (r := manifest.get(e.doc_id)) is None
        or r.hash != entry_hash(e)
        or r.status != "ok"
        or r.embedder != services.embedder.name
    ]
    wanted = {e.doc_id for e in entries}
    return stale, [d for d in manifest if d not in wanted]


def drift_count(services: Services) -> int:
    """How many entries the search does not see as saved (e.g. after the chunk store was restored or reset)."""
    stale, orphans = index_drift(services, list_entries(services))
    return len(stale) + len(orphans)


def sync_index(services: Services) -> dict:
    """Make the chunk store match the database: index missing/changed entries, drop orphans. Returns counts."""
    entries = list_entries(services)
    stale, orphans = index_drift(services, entries)
    _publish(services, index=stale, remove=orphans)
    return {"indexed": len(stale), "removed": len(orphans), "entries": len(entries)}


def repair_index_at_start(services: Services) -> None:
    """The server's start-up check: FAQ entries live in the database, so make sure their searchable copies are in
    the chunk store (e.g. after it was reset). Failures are logged: the server still starts."""
    if services.query_log is None:
        return
    try:
        counts = sync_index(services)
        if counts["indexed"] or counts["removed"]:
            logger.warning("FAQ index repaired at start-up: %s", counts)
    except Exception:
        logger.exception("could not check the FAQ entries' search index at start-up")


# --- CRUD (every change is recorded in the audit trail with its actor) ---
def _version(entry: FaqEntry) -> dict:
    """What the audit trail keeps of an entry: the fields a restore puts back."""
    return {"question": entry.question, "answer": entry.answer, "category": entry.category}


def create_entry(
    services: Services,
    *,
    question: str,
    answer: str,
    category: str | None,
    created_by: str | None = None,
    source_query_id: str | None = None,
    wordings: Sequence[str] = (),
    sheet: tuple[str, str, str] | None = None,
    citations: Sequence[dict] = (),
    hidden: bool = False,
    actor: str | None = None,
) -> FaqEntry:
    """`sheet`: (doc_id, question, answer) of the ingested sheet row this entry overrides (app/ops/faq_list.py);
    `citations`: the articles the answer rests on (app/ops/faq_citations.py); `actor`: who is adding it (an account
    name, "admin-token"); defaults to `created_by`."""
    q, a, cat = clean_faq(question, answer, category)
    who = actor or created_by
    cleaned = [clean_wording(w) for w in wordings]
    entry = services.require_log().faq.create(
        question=q,
        answer=a,
        category=cat,
        created_by=created_by or actor,
        source_query_id=source_query_id,
        wordings=cleaned,
        sheet=sheet,
        citations=citations,
        hidden=hidden,
    )
    _publish(services, index=[entry])
    record_audit(services, actor=who, action="faq.create", target_type="faq", target_id=entry.id, after=_version(entry))
    return entry


def add_wordings(
    services: Services,
    entry_id: int,
    wordings: Sequence[str],
    *,
    created_by: str | None = None,
    source_query_id: str | None = None,
) -> FaqEntry:
    """Add alternative wordings (言い換え) to an entry; searchable at once. Already known wordings are skipped."""
    cleaned = [clean_wording(w) for w in wordings]
    entry, added = services.require_log().faq.add_wordings(
        entry_id, cleaned, created_by=created_by, source_query_id=source_query_id
    )
    if added:
        _publish(services, index=[entry])
    return entry


def republish(services: Services, entry: FaqEntry) -> None:
    """Re-index one entry after a change the database made (citations, settled conflicts)."""
    _publish(services, index=[entry])


def remove_wording(services: Services, entry_id: int, wording: str) -> FaqEntry:
    entry = services.require_log().faq.remove_wording(entry_id, (wording or "").strip())
    _publish(services, index=[entry])
    return entry


def update_entry(
    services: Services,
    entry_id: int,
    *,
    question: str,
    answer: str,
    category: str | None,
    actor: str | None = None,
    action: str = "faq.update",
    extra: dict | None = None,
) -> FaqEntry:
    q, a, cat = clean_faq(question, answer, category)
    log = services.require_log()
    before = log.faq.require(entry_id)
    entry = log.faq.update(entry_id, question=q, answer=a, category=cat)
    _publish(services, index=[entry])
    if _version(before) != _version(entry) or action != "faq.update":
        record_audit(
            services,
            actor=actor,
            action=action,
            target_type="faq",
            target_id=entry.id,
            before=_version(before),
            after={**_version(entry), **(extra or {})},
        )
    return entry


def delete_entry(services: Services, entry_id: int, *, actor: str | None = None) -> FaqEntry:
    entry = services.require_log().faq.delete(entry_id)
    _publish(services, remove=[entry.doc_id])
    record_audit(
        services, actor=actor, action="faq.delete", target_type="faq", target_id=entry.id, before=_version(entry)
    )
    return entry


# --- history and restore ---
def history(services: Services, entry_id: int) -> list[AuditEntry]:
    """The entry's changes, newest first (each with the version before and after)."""
    flt = AuditFilter(target_type="faq", target_id=str(int(entry_id)))
    return services.require_log().audit.search(flt, limit=200)


def restore_version(services: Services, entry_id: int, *, change_id: int, actor: str | None) -> FaqEntry:
    """Put back the version an earlier change left the entry in (its `after`), recorded as `faq.restore`."""
    change = services.require_log().audit.get(int(change_id))
    if change is None or change.target_type != "faq" or change.target_id != str(int(entry_id)) or not change.after:
        raise NotFoundError(
            f"No earlier version {change_id} of FAQ entry {entry_id}.",
            f"FAQ 項目 {entry_id} に版 {change_id} はありません。",
            code="faq_version_not_found",
        )
    v = change.after
    return update_entry(
        services,
        entry_id,
        question=str(v.get("question", "")),
        answer=str(v.get("answer", "")),
        category=str(v.get("category", "")),
        actor=actor,
        action="faq.restore",
        extra={"restored_from": change.id},
    )


# --- import and export ---
@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict] = field(default_factory=list)  # {"row": n, "error": en, "error_ja": ja}

    def to_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged, "errors": self.errors}


def import_rows(
    services: Services, rows: list[tuple[int, dict]], *, created_by: str | None = None, actor: str | None = None
) -> ImportReport:
    """(row number, {question, answer, category}) pairs, numbered as in the file (header = 1). A row whose question equals an
    existing entry's question updates it, so re-importing an export does not duplicate anything."""
    log = services.require_log()
    report = ImportReport()
    by_question = {e.question: e for e in log.faq.list()}
    touched: list[FaqEntry] = []
    changes: list[tuple[str, FaqEntry, dict | None]] = []
    for number, row in rows:
        try:
            q, a, cat = clean_faq(row.get("question"), row.get("answer"), row.get("category"))
        except BadRequestError as exc:
            report.errors.append({"row": number, "error": exc.detail_en, "error_ja": exc.detail_ja})
            continue
        old = by_question.get(q)
        if old is None:
            entry = log.faq.create(question=q, answer=a, category=cat, created_by=created_by or actor)
            report.created += 1
            changes.append(("faq.create", entry, None))
        elif (old.answer, old.category) == (a, cat):
            report.unchanged += 1
            continue
        else:
            entry = log.faq.update(old.id, question=q, answer=a, category=cat)
            report.updated += 1
            changes.append(("faq.update", entry, _version(old)))
        by_question[q] = entry
        touched.append(entry)
    _publish(services, index=touched)
    for action, entry, before in changes:
        record_audit(
            services,
            actor=actor or created_by,
            action=action,
            target_type="faq",
            target_id=entry.id,
            before=before,
            after=_version(entry),
        )
    return report


def import_file(
    services: Services, *, filename: str | None, data: bytes, created_by: str | None, actor: str | None = None
) -> ImportReport:
    """A .csv or .xlsx upload with columns question, answer, category (at most 20 MB)."""
    if len(data) > MAX_IMPORT_BYTES:
        raise BadRequestError("File over 20 MB.", "20MB を超えるファイルです。", code="file_too_large")
    return import_rows(services, read_faq_file(filename or "", data), created_by=created_by, actor=actor)


def export_csv(services: Services) -> Export:
    return Export(filename="madoguchi-faq.csv", media_type=CSV_TYPE, content=faq_csv(list_entries(services)))


def export_xlsx(services: Services) -> Export:
    return Export(filename="madoguchi-faq.xlsx", media_type=XLSX_TYPE, content=faq_xlsx(list_entries(services)))
