"""Company vocabulary (社内用語): the words employees use that the regulations do not (「ケイヒノート」 for
経費精算システム), mapped to the regulations' terms so a question containing the word is searched with them too.

Three origins, each replacing the one before for the same word (app/retrieval/glossary.py): the default list
(既定), the deployment's file (ファイル, MADOGUCHI_GLOSSARY_FILE) and the staff's entries (社内). The staff add, edit
and delete their own entries only; a staff entry with the word of a default or file entry overrides it.

The staff's entries are kept in the chunk store (one record) and every edit bumps the corpus version, so this
process and every other replica reload them with the next snapshot: an entry takes effect at once.
Shared by the admin API (app/api/glossary.py) and the console's 「社内用語」 page.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass

from app.errors import BadRequestError, NotFoundError
from app.ops.audit import record_audit
from app.ops.reembed import raise_if_reembedding
from app.retrieval.glossary import normalize
from app.services import Services
from app.types import TermOrigin

logger = logging.getLogger(__name__)

MAX_WORD = 40
MAX_FORMAL = 200
MAX_STAFF_TERMS = 2000  # every question is matched against every word; far more than a company needs
_ORDER: dict[TermOrigin, int] = {"staff": 0, "file": 1, "default": 2}


@dataclass(frozen=True)
class Term:
    word: str  # as questions are matched: NFKC, lower case
    formal: str  # the regulations' terms, separated by spaces
    origin: TermOrigin
    overrides: TermOrigin | None = None  # the origin of the entry this one replaces (same word)

    def to_dict(self) -> dict:
        return {"word": self.word, "formal": self.formal, "origin": self.origin, "overrides": self.overrides}


def clean_term(word: str | None, formal: str | None) -> tuple[str, str]:
    """Validate one entry; returns (the word as questions are matched, the formal terms with single spaces)."""
    raw_word, raw_formal = (word or "").strip(), (formal or "").strip()
    if any(unicodedata.category(c) == "Cc" for c in raw_word + raw_formal):
        raise BadRequestError(
            "The word and its formal terms must each fit on one line: no tabs or line breaks.",
            "社内用語と正式な用語にはタブや改行を使えません。それぞれ 1 行で入力してください。",
            code="term_control_chars",
        )
    key = normalize(raw_word)
    if not key:
        raise BadRequestError(
            "Enter the word employees use (e.g. ケイヒノート).",
            "社内用語（社員が使う言葉。例: ケイヒノート）を入力してください。",
            code="term_word_empty",
        )
    if len(key) > MAX_WORD:
        raise BadRequestError(
            f"The word is too long ({len(key)} characters; at most {MAX_WORD}).",
            f"社内用語が長すぎます（{len(key)} 文字。{MAX_WORD} 文字まで）。",
            code="term_word_too_long",
        )
    terms = " ".join(raw_formal.split())
    if not terms:
        raise BadRequestError(
            "Enter the formal terms the regulations use (e.g. 経費精算システム); separate several with spaces.",
            "正式な用語（規程で使われる言葉。例: 経費精算システム）を入力してください。複数ある場合はスペースで区切ります。",
            code="term_formal_empty",
        )
    if len(terms) > MAX_FORMAL:
        raise BadRequestError(
            f"The formal terms are too long ({len(terms)} characters; at most {MAX_FORMAL}).",
            f"正式な用語が長すぎます（{len(terms)} 文字。{MAX_FORMAL} 文字まで）。",
            code="term_formal_too_long",
        )
    return key, terms


# --- reading ---
def list_terms(services: Services, *, q: str | None = None) -> list[Term]:
    """Every entry in force, one per word: the staff's first, then the file's, then the defaults; `q` keeps the
    entries whose word or formal terms contain it. The staff's entries are read from the store (the truth shared by
    every replica), the others from this process's vocabulary."""
    glossary = services.index.glossary
    staff = services.store.glossary()
    terms = [Term(word, formal, "staff", glossary.base_origin(word)) for word, formal in staff.items()]
    for word, formal in glossary.base.items():
        if word not in staff:
            origin = glossary.base_origin(word) or "default"
            terms.append(Term(word, formal, origin, glossary.overrides(word) if origin == "file" else None))
    return matching(sorted(terms, key=lambda t: (_ORDER[t.origin], t.word)), q)


def matching(terms: list[Term], q: str | None) -> list[Term]:
    """The terms whose word or formal terms contain `q` (compared as questions are: NFKC, lower case)."""
    needle = normalize(q or "")
    if not needle:
        return terms
    return [t for t in terms if needle in t.word or needle in normalize(t.formal)]


# --- editing the staff's entries ---
def set_term(services: Services, word: str, formal: str, *, actor: str) -> Term:
    """Add or change a staff entry (overriding a default or file entry of the same word); in force at once here and,
    through the corpus version, on every replica."""
    key, terms = clean_term(word, formal)
    raise_if_reembedding(services)  # 409 now rather than waiting for the whole re-embed
    with services.ingest_lock:  # one writer of the store per process
        entries = services.store.glossary()
        if key not in entries and len(entries) >= MAX_STAFF_TERMS:
            raise BadRequestError(
                f"There are already {len(entries)} company words (at most {MAX_STAFF_TERMS}); delete some first.",
                f"社内用語はすでに {len(entries)} 件あります（{MAX_STAFF_TERMS} 件まで）。不要なものを削除してください。",
                code="term_limit",
            )
        before = entries.get(key)
        entries[key] = terms
        if before != terms:
            _publish(services, entries)
    services.index.refresh()
    logger.info("company word %r set by %s: %r → %r", key, actor, before, terms)
    if before != terms:
        record_audit(
            services,
            actor=actor,
            action="glossary.set",
            target_type="glossary",
            target_id=key,
            before={"word": key, "formal": before} if before is not None else None,
            after={"word": key, "formal": terms},
        )
    return Term(key, terms, "staff", services.index.glossary.base_origin(key))


def delete_term(services: Services, word: str, *, actor: str) -> Term:
    """Delete a staff entry (a default or file entry it overrode is in force again). Default and file entries are
    not the staff's to delete: a staff entry of the same word overrides them."""
    key = normalize(word)
    raise_if_reembedding(services)  # 409 now rather than waiting for the whole re-embed
    with services.ingest_lock:
        entries = services.store.glossary()
        if key not in entries:
            origin = services.index.glossary.base_origin(key)
            if origin is not None:
                where_en = "the default list" if origin == "default" else "the glossary file (MADOGUCHI_GLOSSARY_FILE)"
                where_ja = "既定の用語" if origin == "default" else "ファイル（MADOGUCHI_GLOSSARY_FILE）の用語"
                raise BadRequestError(
                    f"「{key}」 comes from {where_en} and cannot be deleted here; save a company word with the same "
                    "word to override it.",
                    f"「{key}」は{where_ja}のため、ここでは削除できません。同じ言葉で社内用語を登録すると上書きできます。",
                    code="term_not_staff",
                )
            raise NotFoundError(
                f"No company word 「{key}」 has been saved.",
                f"社内用語「{key}」は登録されていません。",
                code="term_not_found",
            )
        formal = entries.pop(key)
        _publish(services, entries)
    services.index.refresh()
    logger.info("company word %r deleted by %s (was %r)", key, actor, formal)
    record_audit(
        services,
        actor=actor,
        action="glossary.delete",
        target_type="glossary",
        target_id=key,
        before={"word": key, "formal": formal},
    )
    return Term(key, formal, "staff", services.index.glossary.base_origin(key))


def _publish(services: Services, entries: dict[str, str]) -> None:
    """Write the staff's entries and bump the corpus version (keeping the stored embedder's name) so every server
    reloads them. The caller holds the ingest lock and refreshes this process's index afterwards."""
    services.store.put_glossary(entries)
    embedder = str(services.store.corpus_info().get("embedder") or "")
    services.store.bump_version(embedder=embedder)
