"""Structure-aware chunking.

Headings (Markdown `#`, Word heading styles, 第N章 / 第N節 / 第N条 lines) build a section path such as
`就業規則 > 第6章 休暇等 > 第34条 年次有給休暇`. The body under one heading is one chunk when it is short; a
long one is split at 項 (numbered paragraphs), then at sentence ends (。), never mid-sentence. FAQ rows become
one chunk each, with the question as the section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.loaders import LoadedDocument

MAX_CHARS = 700
MIN_CHARS = 40

_WS = re.compile(r"[ \t\u3000]+")
_ITEM = re.compile(
    r"^\s*(?:[0-9０-９]+(?:[.．、)）]|[ 　](?=\S))|[（(][0-9０-９一二三四五六七八九十]+[)）]|[一二三四五六七八九十]+\s|[①-⑳])"
)
_SENTENCE = re.compile(r"(?<=[。！？!?])|(?<=\.)(?=\s+[A-Z])")  # the space stays with the text: never "end.Next"


@dataclass
class ChunkDraft:
    text: str
    section: str
    heading: str
    page: int | None
    position: int
    kind: str = "doc"
    question: str | None = None
    category: str | None = None


def clean_heading(text: str) -> str:
    return _WS.sub(" ", text).strip()


def _split_long(text: str, limit: int) -> list[str]:
    """Split at 項 first, then at sentence ends; pieces are packed up to `limit` characters."""
    if len(text) <= limit:
        return [text]
    units: list[str] = []
    current: list[str] = []
    for line in text.split("\n"):
        if _ITEM.match(line) and current and not line.startswith((" ", "\t", "　")):
            units.append("\n".join(current))
            current = []
        current.append(line)
    if current:
        units.append("\n".join(current))
    pieces: list[str] = []
    for unit in units:
        if len(unit) <= limit:
            pieces.append(unit)
            continue
        sentences = [s for s in _SENTENCE.split(unit) if s]
        buf = ""
        for s in sentences:
            while len(s) > limit:  # a single enormous sentence: hard cut as a last resort
                if buf:
                    pieces.append(buf)
                    buf = ""
                pieces.append(s[:limit])
                s = s[limit:]
            if len(buf) + len(s) > limit and buf:
                pieces.append(buf)
                buf = ""
            buf += s
        if buf:
            pieces.append(buf)
    packed: list[str] = []
    for piece in pieces:
        if packed and len(packed[-1]) + len(piece) + 1 <= limit:
            packed[-1] = packed[-1] + "\n" + piece
        else:
            packed.append(piece)
    return [p.strip("\n") for p in packed if p.strip()]


def chunk_document(doc: LoadedDocument, *, max_chars: int = MAX_CHARS) -> list[ChunkDraft]:
    drafts: list[ChunkDraft] = []
    title = clean_heading(doc.title)
    stack: list[tuple[int, str]] = []  # (level, heading)
    body: list[str] = []
    body_page: int | None = None

    def path() -> str:
        parts = [title] + [h for _, h in stack if h != title]
        return " > ".join(parts)

    def flush() -> None:
        nonlocal body_page
        text = "\n".join(body).strip()
        body.clear()
        if not text:
            return
        heading = stack[-1][1] if stack else title
        for piece in _split_long(text, max_chars):
            drafts.append(ChunkDraft(text=piece, section=path(), heading=heading, page=body_page, position=len(drafts)))
        body_page = None

    for block in doc.blocks:
        if block.level is not None:
            flush()
            text = clean_heading(block.text)
            if block.level == 1 and text == title:
                continue
            while stack and stack[-1][0] >= block.level:
                stack.pop()
            stack.append((block.level, text))
            body_page = block.page
            continue
        if body_page is None:
            body_page = block.page
        body.append(block.text)
    flush()

    # A heading with no body at all (e.g. 「第3条（削除）」) still deserves to be findable when it says something.
    for row in doc.faq:
        q = clean_heading(row.question)
        drafts.append(
            ChunkDraft(
                text=row.answer.strip(),
                section=f"{title} > {q}",
                heading=q,
                page=None,
                position=len(drafts),
                kind="faq",
                question=q,
                category=row.category,
            )
        )
    return _merge_tiny(drafts)


def _merge_tiny(drafts: list[ChunkDraft]) -> list[ChunkDraft]:
    """Fold a very short piece into the previous chunk of the same section."""
    out: list[ChunkDraft] = []
    for d in drafts:
        if (
            out
            and d.kind == "doc"
            and out[-1].kind == "doc"
            and out[-1].section == d.section
            and len(d.text) < MIN_CHARS
        ):
            out[-1].text = out[-1].text + "\n" + d.text
            continue
        out.append(d)
    for i, d in enumerate(out):
        d.position = i
    return out
