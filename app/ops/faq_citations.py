"""Stale answers: an FAQ entry cites the articles its answer rests on; when a cited article's text changes on
re-ingest, the entry needs review (要確認) until a staff member confirms it.

A citation is {doc_id, source, section, hash}: the hash of the article's text when it was cited. The entry's
searchable copy carries the citations, so `answer()` sees from the snapshot alone that an answer from the entry
rests on a changed article and adds a note; the FAQ page lists such entries with 「確認済みにする」.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.errors import BadRequestError
from app.ops import faq
from app.services import Services
from app.store.querylog import QueryRecord
from app.store.querylog_faq import FaqEntry


def _snapshot(services: Services):
    services.index.raise_if_unavailable()
    return services.index.snapshot


def citation(services: Services, *, doc_id: str, section: str) -> dict:
    """A citation of one article as it stands now; 422 when the search does not hold that article."""
    snap = _snapshot(services)
    current = snap.section_hash(doc_id, section)
    if current is None:
        raise BadRequestError(
            f"No article {section!r} in {doc_id!r}.",
            f"{doc_id} に「{section}」という条文はありません。",
            code="bad_citation",
        )
    source = next((c.source for c in snap.chunks if c.doc_id == doc_id), doc_id)
    return {"doc_id": doc_id, "source": source, "section": section, "hash": current}


def suggested(services: Services, record: QueryRecord) -> list[dict]:
    """The article the bot's attempt cited first (a document, not an FAQ), as a citation — the staff's answer most
    often rests on it; empty when it cited none or the article is gone."""
    for s in record.sources[:1]:
        if s.get("kind", "doc") == "doc" and s.get("doc_id") and s.get("section"):
            try:
                return [citation(services, doc_id=s["doc_id"], section=s["section"])]
            except BadRequestError:
                return []
    return []


def from_cite(services: Services, cited: dict) -> list[dict]:
    """The staff's cite in the answer form ({"doc_id", "section"}, the section possibly its last part) as a
    citation of the whole article."""
    snap = services.index.snapshot
    section = str(cited.get("section") or "")
    for c in snap.chunks if snap is not None else []:
        if (
            c.kind == "doc"
            and c.doc_id == cited.get("doc_id")
            and (c.section == section or c.section.endswith(section))
        ):
            return [citation(services, doc_id=c.doc_id, section=c.section)]
    return []


def stale(services: Services, entry: FaqEntry) -> list[dict]:
    """The entry's citations whose article changed since it was cited (or is gone)."""
    snap = services.index.snapshot
    if snap is None:
        return []
    return [c for c in entry.citations if snap.section_hash(c.get("doc_id", ""), c.get("section", "")) != c.get("hash")]


def needs_review(services: Services) -> list[tuple[FaqEntry, list[dict]]]:
    """Entries flagged 要確認 (for the FAQ page and the admin API)."""
    out = []
    for e in faq.list_entries(services):
        changed = stale(services, e)
        if changed:
            out.append((e, changed))
    return out


def set_citations(services: Services, entry_id: int, cites: Sequence[dict]) -> FaqEntry:
    """The staff pick the articles an entry rests on ({doc_id, section} each); hashed as they stand now."""
    fresh = [citation(services, doc_id=str(c.get("doc_id") or ""), section=str(c.get("section") or "")) for c in cites]
    entry = services.require_log().faq.set_citations(entry_id, fresh)
    faq.republish(services, entry)
    return entry


def confirm(services: Services, entry_id: int) -> FaqEntry:
    """A staff member checked the entry against the changed articles: the flag clears (gone articles are dropped)."""
    entry = faq.get_entry(services, entry_id)
    snap = _snapshot(services)
    fresh = []
    for c in entry.citations:
        current = snap.section_hash(c.get("doc_id", ""), c.get("section", ""))
        if current is not None:
            fresh.append({**c, "hash": current})
    entry = services.require_log().faq.set_citations(entry_id, fresh)
    faq.republish(services, entry)
    return entry
