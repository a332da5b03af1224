"""The staff answer questions: record the answer, relay it to each asker through `services.resolution_hooks`
(the Slack bot registers one), and optionally turn it into an FAQ entry. Used by `POST
/api/admin/queries/{id}/resolve` and the console's 「未解決の質問」 answer form.

Failure policy: the resolution is written first and stands; a hook that fails is logged and reported in
`relay_errors`, never undoes it, and never stops the other hooks.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from dataclasses import dataclass, field

from app.errors import BadRequestError, NotFoundError
from app.ops.audit import record_audit
from app.ops.events import question_resolved
from app.ops.faq import clean_faq, create_entry
from app.services import Services
from app.store.querylog import QueryRecord
from app.store.querylog_faq import FaqEntry

logger = logging.getLogger(__name__)


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


async def run_resolution_hooks(services: Services, record: QueryRecord, answer_text: str) -> tuple[int, list[dict]]:
    """Call every `hook(record, answer)` (sync hooks in a worker thread). A hook returns True when it delivered the
    answer (e.g. posted it to the Slack asker) and None/False when the question was not its to deliver; those True
    are counted. A failing hook is logged and reported, never undoes the resolution."""
    done, errors = 0, []
    for hook in list(services.resolution_hooks):
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


def check_cite(services: Services, cite: dict) -> dict:
    """The cited article as stored with the resolution ({"source", "section", "doc_id", "title"}); 422 `bad_cite`
    when no indexed document (or no section of it) has that name, so a typo never teaches the adapter."""
    source = str(cite.get("source") or "").strip()
    section = str(cite.get("section") or "").strip()
    snapshot = services.index.snapshot
    chunks = [c for c in (snapshot.chunks if snapshot is not None else []) if source and source in (c.source, c.doc_id)]
    if section:
        chunks = [c for c in chunks if c.section == section or c.section.endswith(section)]
    if not chunks:
        raise BadRequestError(
            f"No indexed document {source!r}" + (f" with section {section!r}" if section else "") + ".",
            f"取り込み済みの文書 {source!r}" + (f" に見出し {section!r}" if section else "") + " が見つかりません。",
            code="bad_cite",
        )
    c = chunks[0]
    return {"source": c.source, "section": section, "doc_id": c.doc_id, "title": c.title}


def cite_line(cited: dict, *, lang: str) -> str:
    """The citation appended to the staff answer the asker receives."""
    where = " ".join(x for x in (cited.get("title") or cited.get("source"), cited.get("section")) if x)
    return f"\n\n（根拠: {where}）" if lang == "ja" else f"\n\n(Source: {where})"


async def resolve_questions(
    services: Services,
    query_ids: list[str],
    *,
    answer: str,
    by: str | None = None,
    add_to_faq: bool = False,
    faq_question: str | None = None,
    category: str | None = None,
    cite: dict | None = None,
    actor: str | None = None,
) -> Resolution:
    """Resolve one or more questions with one staff answer, relay it to each asker, and optionally save one FAQ entry
    (its question: `faq_question` or the first question; its category: `category` or the first one's). `by` is the
    name shown as the answerer; `actor` the account recorded in the audit trail (default: `by`).
    `cite` ({"source", "section"}) names the article the answer rests on: it is shown to the asker with the answer
    and teaches the query adapter (app/ops/adapt.py) that these questions ask about that article."""
    log = services.require_log()
    cited = check_cite(services, cite) if cite else None
    text = (answer or "").strip()
    if not text:
        raise BadRequestError("The answer is empty.", "回答が空です。", code="empty_answer")
    if not query_ids:
        raise BadRequestError("No question selected.", "質問が選択されていません。", code="no_queries")
    found = [log.get(i) for i in query_ids]
    missing = [i for i, r in zip(query_ids, found) if r is None]
    if missing:
        raise NotFoundError(
            f"No question with id {missing[0]!r} in the log.",
            f"ID {missing[0]!r} の質問は記録にありません。",
            code="query_not_found",
        )
    if add_to_faq:
        first = found[0]
        assert first is not None
        # Validate before anything is written, so a bad category does not leave half a resolution behind.
        clean_faq(faq_question or first.question, text, category or first.category)
    out = Resolution(records=[])
    who = actor or by
    for qid, old in zip(query_ids, found):
        record = await asyncio.to_thread(log.resolve, qid, answer=text, by=by)
        if cited is not None:
            updated = await asyncio.to_thread(
                log.update_meta, qid, resolution_cite=cited, resolution_group=query_ids[0]
            )
            record = updated or record
        out.records.append(record)
        question_resolved(services, record)  # the webhook's `question.resolved` (queued, never blocks)
        assert old is not None
        await asyncio.to_thread(
            record_audit,
            services,
            actor=who,
            action="query.resolve",
            target_type="query",
            target_id=qid,
            before={"resolution": old.resolution, "resolved_by": old.resolved_by} if old.resolved else None,
            after={"resolution": record.resolution, "resolved_by": record.resolved_by, "question": record.question},
        )
        relayed = text + cite_line(cited, lang=record.language) if cited else text
        n, errs = await run_resolution_hooks(services, record, relayed)
        out.relayed += n
        out.relay_errors.extend(errs)
    if add_to_faq:
        first = out.records[0]
        out.faq = await asyncio.to_thread(
            create_entry,
            services,
            question=faq_question or first.question,
            answer=text,
            category=category or first.category,
            created_by=by,
            source_query_id=first.id,
            actor=who,
        )
    return out
