"""What a loader produces: a `LoadedDocument` (title, category hint, blocks, FAQ rows), and the shared helpers every
loader uses to decode text and to fail with a reason a person can act on."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from app.errors import IngestError
from ingest.structure import Block


@dataclass
class FaqRow:
    question: str
    answer: str
    category: str | None = None


@dataclass
class LoadedDocument:
    title: str
    blocks: list[Block] = field(default_factory=list)
    faq: list[FaqRow] = field(default_factory=list)
    category: str | None = None
    url: str | None = None

    @property
    def chars(self) -> int:
        return sum(len(b.text) for b in self.blocks) + sum(len(r.question) + len(r.answer) for r in self.faq)


def fail(en: str, ja: str) -> IngestError:
    return IngestError(en, ja)


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) or CP932 (Shift_JIS); refuses binaries and undecodable bytes."""
    if not data.strip():
        raise fail("The file is empty.", "ファイルが空です。")
    if b"\x00" in data[:8192]:
        raise fail(
            "This looks like a binary file, not text (it contains NUL bytes).",
            "テキストではなくバイナリファイルのようです（NUL バイトを含みます）。",
        )
    for encoding in ("utf-8-sig", "cp932"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\n\r\t\f")
        if controls > max(2, len(text) // 200):
            raise fail(
                "This looks like a binary file, not text (control characters).",
                "テキストではなくバイナリファイルのようです（制御文字を含みます）。",
            )
        return text.replace("\r\n", "\n").replace("\r", "\n")
    raise fail(
        "The text is neither UTF-8 nor Shift_JIS (CP932); save it as UTF-8 and re-ingest.",
        "文字コードが UTF-8 でも Shift_JIS（CP932）でもありません。UTF-8 で保存して再取り込みしてください。",
    )
