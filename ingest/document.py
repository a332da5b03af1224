"""What a loader produces: a `LoadedDocument` (title, category hint, blocks, FAQ rows), and the shared helpers every
loader uses to decode text, to stay within the `Limits` of one file and to fail with a reason a person can act on."""

from __future__ import annotations

import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

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


@dataclass(frozen=True)
class Limits:
    """What one file may cost to load, so one pathological file fails alone instead of taking the memory or the
    ingest lock. The pipeline uses `LIMITS`; tests pass smaller ones to `ingest.loaders.load`."""

    max_chars: int = 5_000_000  # extracted characters of one document
    max_rows: int = 50_000  # rows of one .xlsx, all sheets together (read lazily, stopped at the limit)
    max_unzipped_bytes: int = 200 * 1024 * 1024  # sum of the uncompressed member sizes of a .docx / .xlsx
    max_zip_ratio: float = 100.0  # uncompressed : compressed, for a member of at least `ratio_floor_bytes`
    ratio_floor_bytes: int = 10 * 1024 * 1024
    max_zip_members: int = 10_000


LIMITS = Limits()


def _mb(n: float) -> str:
    return f"{n / (1024 * 1024):,.0f} MB"


def check_zip(path: Path | IO[bytes], limits: Limits, *, kind: str) -> None:
    """Refuse a .docx / .xlsx that would decompress past the limits, from its central directory alone (nothing is
    decompressed). Python's zipfile never inflates a member past its declared size, so the declared sizes bound what
    python-docx and openpyxl would read."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise fail(
            f"The {kind} file is corrupt or not a {kind} file: {exc}",
            f"{kind} ファイルが壊れているか、{kind} 形式ではありません: {exc}",
        ) from exc
    if len(members) > limits.max_zip_members:
        raise fail(
            f"The {kind} file has {len(members):,} parts (at most {limits.max_zip_members:,}); it is not a normal "
            "document. Save it again from Word/Excel.",
            f"{kind} ファイルの構成要素が {len(members):,} 個あります（上限 {limits.max_zip_members:,}）。通常の文書ではありません。"
            "Word/Excel で保存し直してください。",
        )
    total = sum(m.file_size for m in members)
    if total > limits.max_unzipped_bytes:
        raise fail(
            f"The {kind} file would unpack to {_mb(total)} (at most {_mb(limits.max_unzipped_bytes)}): a zip bomb or "
            "an oversized document. Split it or save it without embedded media.",
            f"{kind} ファイルは展開すると {_mb(total)} になります（上限 {_mb(limits.max_unzipped_bytes)}）。"
            "圧縮爆弾か大きすぎる文書です。分割するか、埋め込み画像などを除いて保存し直してください。",
        )
    for m in members:
        ratio = m.file_size / max(m.compress_size, 1)
        if m.file_size >= limits.ratio_floor_bytes and ratio > limits.max_zip_ratio:
            raise fail(
                f"The {kind} file's part {m.filename} is compressed {ratio:,.0f}:1 (at most {limits.max_zip_ratio:g}:1 "
                f"for a part of {_mb(limits.ratio_floor_bytes)} or more): a zip bomb. Save it again from Word/Excel.",
                f"{kind} ファイルの {m.filename} の圧縮率が {ratio:,.0f}:1 です（{_mb(limits.ratio_floor_bytes)} 以上の部分は "
                f"{limits.max_zip_ratio:g}:1 まで）。圧縮爆弾の疑いがあります。Word/Excel で保存し直してください。",
            )


def too_many_chars(limits: Limits) -> IngestError:
    return fail(
        f"The document has more than {limits.max_chars:,} characters of text; split it into smaller files.",
        f"文書の本文が {limits.max_chars:,} 文字を超えています。小さいファイルに分けてください。",
    )


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
