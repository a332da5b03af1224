"""Scope: which employee class a document applies to, and which class a question's asker states.

Companies keep separate rules per employee class (正社員 / 短時間正社員 / パート・アルバイト / 契約社員 …) that use
the same words for different numbers. A document's classes come from its title and its 適用範囲 (scope) article; a
question's class from what the asker says about themselves (「パートなんですけど…」). The ranker prefers documents of
the stated class, and the general rules when none is stated.
"""

from __future__ import annotations

import re
import unicodedata

# class → surface patterns (checked on NFKC-normalized, lower-cased text). Order matters: 短時間正社員 before 正社員.
CLASSES: dict[str, tuple[str, ...]] = {
    "短時間正社員": ("短時間正社員", "時短正社員", "短時間勤務正社員", "時短社員", "時短勤務の正社員"),
    "パート": (
        "パートタイマー",
        "パートタイム",
        "パート社員",
        "パートさん",
        "パート",
        "アルバイト",
        "バイト",
        "part-time",
        "part time",
        "part-timer",
    ),
    "契約社員": ("契約社員", "有期契約", "有期雇用", "期間雇用", "嘱託", "contract employee", "fixed-term"),
    "役員": ("役員", "取締役", "executive", "director"),
    "正社員": ("正社員", "正規社員", "総合職", "full-time employee", "regular employee"),
}
GENERAL = "正社員"

_SCOPE_ARTICLE = re.compile(r"適用範囲|適用対象|適用")
_APPLIES = re.compile(r"適用する|適用される|適用し|対象とする")
_NOT_SCOPE = re.compile(r"(?:除く|除き|適用しない|別に定める|別規程|別途定める)")


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").lower()


def _found(text: str) -> list[str]:
    text = _norm(text)
    out: list[str] = []
    for cls, patterns in CLASSES.items():
        for p in patterns:
            i = text.find(_norm(p))
            if i < 0:
                continue
            if cls == "正社員" and any(text[max(0, i - 3) : i].endswith(pre) for pre in ("短時間", "時短")):
                continue
            out.append(cls)
            break
    return out


def question_classes(question: str) -> list[str]:
    """Classes the asker states (「パートなんですけど」→ パート). 「バイト」 meaning a side job (副業) is not a class."""
    text = _norm(question)
    if re.search(
        r"(副業|兼業|掛け持ち|かけもち).{0,6}バイト|バイト.{0,6}(副業|兼業)|他の?(会社|所)で.{0,6}バイト", text
    ):
        text = text.replace("バイト", "")
    return _found(text)


def document_classes(title: str, scope_text: str = "") -> list[str]:
    """Classes a document applies to: those its title names, else those its 適用範囲 article says it applies to
    (classes mentioned only as exclusions — 「パートタイマーを除く」 — do not count). Empty: general rules."""
    in_title = _found(title)
    if in_title:
        return [] if GENERAL in in_title else in_title
    applied: list[str] = []
    for sentence in (scope_text or "").split("\n"):  # per 項: 「。」 also closes 「（以下「従業員」という。）」
        if not sentence.strip() or _NOT_SCOPE.search(sentence) or not _APPLIES.search(sentence):
            continue
        for cls in _found(sentence):
            if cls not in applied:
                applied.append(cls)
    return [] if GENERAL in applied else applied


def scope_article_text(blocks: list[tuple[str | None, str]]) -> str:
    """The body of the document's 適用範囲 article, given (heading, body) pairs in order (empty when none)."""
    for heading, body in blocks:
        if heading and _SCOPE_ARTICLE.search(heading):
            return body
    for _, body in blocks[:3]:  # first articles often state the scope without a caption
        if "適用する" in body:
            return body
    return ""
