"""Loaders: turn a file into a `LoadedDocument` — a title, a category hint and a list of blocks.

A block is a heading (with a level) or body text, with the PDF page it came from. Every loader raises
`IngestError` with a reason a person can act on (corrupt, encrypted, empty, binary, undecodable, no text).
PDF, plain text and Excel live here; Markdown, Word and HTML, whose structure takes more work to recover, have
modules of their own (`load_markdown`, `load_word`, `load_html`). All of them end in `structure.recover_articles`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

from app.errors import IngestError
from ingest.document import LIMITS, FaqRow, Limits, LoadedDocument, check_zip, decode_text, fail, too_many_chars
from ingest.load_html import load_html
from ingest.load_markdown import load_markdown_text
from ingest.load_word import load_docx
from ingest.structure import Block, heading_level, plain_blocks

__all__ = [
    "LIMITS",
    "SUPPORTED",
    "Block",
    "FaqRow",
    "Limits",
    "LoadedDocument",
    "decode_text",
    "load",
    "load_markdown_text",
]

SUPPORTED = {".pdf", ".md", ".markdown", ".txt", ".text", ".docx", ".xlsx", ".html", ".htm"}


def load_pdf(path: Path, limits: Limits = LIMITS) -> LoadedDocument:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            try:
                ok = bool(reader.decrypt(""))
            except Exception:  # noqa: BLE001
                ok = False
            if not ok:
                raise fail(
                    "The PDF is password-protected; remove the password and re-ingest.",
                    "PDF にパスワードが掛かっています。解除してから再取り込みしてください。",
                )
        pages: list[tuple[int, str]] = []
        chars = 0
        for i, page in enumerate(reader.pages):  # page by page, stopped at the character limit
            text = page.extract_text() or ""
            chars += len(text)
            if chars > limits.max_chars:
                raise too_many_chars(limits)
            pages.append((i + 1, text))
    except IngestError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise fail(f"The PDF is corrupt or unreadable: {exc}", f"PDF が壊れているか読み取れません: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds on broken files
        raise fail(f"The PDF is corrupt or unreadable: {exc}", f"PDF が壊れているか読み取れません: {exc}") from exc
    if not pages:
        raise fail("The PDF has no pages.", "PDF にページがありません。")
    if not any(text.strip() for _, text in pages):
        raise fail(
            "No text could be extracted from the PDF (a scanned image?); OCR it or provide a text version.",
            "PDF からテキストを抽出できません（スキャン画像の可能性）。OCR するかテキスト版を用意してください。",
        )
    blocks: list[Block] = []
    for number, text in strip_running_lines([(n, unicodedata.normalize("NFKC", t)) for n, t in pages]):
        blocks.extend(plain_blocks(unwrap_lines(text), page=number))
    title = _title_from_meta(reader) or _first_line(blocks) or path.stem
    return LoadedDocument(title=title, blocks=blocks)


_PAGE_NUMBER = re.compile(r"^\s*(?:[-–—]\s*\d+\s*[-–—]|\d+\s*/\s*\d+|page\s*\d+|\d+\s*ページ)\s*", re.I)


_PAGE_NUMBER_END = re.compile(r"\s*(?:[-–—]\s*\d+\s*[-–—]|\d+\s*/\s*\d+|page\s*\d+|\d+\s*ページ)\s*$", re.I)


def strip_running_lines(pages: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Drop page furniture: a page number line (「- 3 -」, 「3 / 12」), also when pypdf glued it to the running
    footer, and the first/last lines that repeat (page numbers aside) on at least half of the pages (running headers and
    footers such as 「株式会社あおば精機 旅費規程」), so they are not quoted in the middle of an article."""
    if len(pages) < 2:
        return pages

    def key(line: str) -> str:
        return _PAGE_NUMBER_END.sub("", _PAGE_NUMBER.sub("", line)).strip()

    edges: dict[str, int] = {}
    for _, text in pages:
        lines = [ln for ln in text.split("\n") if ln.strip()]
        for ln in {key(x) for x in lines[:2] + lines[-2:]}:
            if ln:
                edges[ln] = edges.get(ln, 0) + 1
    running = {k for k, n in edges.items() if n >= max(2, len(pages) / 2) and len(k) <= 60}
    out = []
    for number, text in pages:
        kept = []
        for ln in text.split("\n"):
            if _PAGE_NUMBER.match(ln) and (not _PAGE_NUMBER.sub("", ln).strip() or key(ln) in running):
                continue
            if key(ln) in running and heading_level(ln.strip()) is None:
                continue
            kept.append(ln)
        out.append((number, "\n".join(kept)))
    return out


_ENDS_SENTENCE = re.compile(r"[。．.!！?？:：」）)]\s*$")
_STARTS_ITEM = re.compile(
    r"^\s*(?:[0-9０-９]+[\s.．、)）]|[（(][0-9０-９一二三四五六七八九十]+[)）]|[・\-*•●○◆■①-⑳]|第[0-9０-９]+[章節条])"
)
_LATIN_END = re.compile(r"[A-Za-z0-9,]$")


def unwrap_lines(text: str) -> str:
    """Re-join lines that a PDF wrapped mid-sentence; keep breaks before items, headings and after sentence ends."""
    out: list[str] = []
    for line in text.split("\n"):
        stripped = line.strip()
        if (
            out
            and stripped
            and out[-1].strip()
            and not _ENDS_SENTENCE.search(out[-1])
            and not _STARTS_ITEM.match(stripped)
            and heading_level(out[-1].strip()) is None
            and heading_level(stripped) is None
        ):
            sep = " " if _LATIN_END.search(out[-1]) and stripped[:1].isascii() else ""
            out[-1] = out[-1].rstrip() + sep + stripped
        else:
            out.append(line)
    return "\n".join(out)


def _title_from_meta(reader) -> str | None:
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:  # noqa: BLE001
        return None
    return title.strip() if title and title.strip() else None


def _first_line(blocks: list[Block]) -> str | None:
    for b in blocks:
        if b.level is None:
            first = b.text.strip().split("\n")[0].strip()
            if first and len(first) <= 40:
                return first
        return None
    return None


def _read_text(path: Path, limits: Limits) -> str:
    text = decode_text(path.read_bytes())
    if len(text) > limits.max_chars:
        raise too_many_chars(limits)
    return text


def load_text(path: Path, limits: Limits = LIMITS) -> LoadedDocument:
    text = _read_text(path, limits)
    blocks = plain_blocks(text)
    title = path.stem
    # A first short line that is not an article is the title (「備品管理規程」).
    if blocks and blocks[0].level is None:
        first, _, rest = blocks[0].text.strip().partition("\n")
        if first.strip() and len(first.strip()) <= 40:
            title = first.strip()
            blocks[0] = Block(rest, None)
            if not rest.strip():
                blocks.pop(0)
    return LoadedDocument(title=title, blocks=blocks)


def load_markdown(path: Path, limits: Limits = LIMITS) -> LoadedDocument:
    return load_markdown_text(_read_text(path, limits), path.stem)


Q_HEADERS = ("質問", "問", "q", "question", "faq")
A_HEADERS = ("回答", "答", "a", "answer")
C_HEADERS = ("カテゴリ", "カテゴリー", "分類", "category")


def match_header(cell: str, names: tuple[str, ...]) -> bool:
    cell = cell.strip().lower()
    return any(cell == n or (len(n) > 1 and cell.startswith(n)) for n in names)


def load_xlsx(path: Path, limits: Limits = LIMITS) -> LoadedDocument:
    import openpyxl

    check_zip(path, limits, kind="Excel")
    try:
        workbook = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001
        raise fail(
            f"The Excel file is corrupt or not an .xlsx: {exc}",
            f"Excel ファイルが壊れているか .xlsx ではありません: {exc}",
        ) from exc
    faq: list[FaqRow] = []
    blocks: list[Block] = []
    seen_rows = chars = 0
    try:
        for sheet in workbook.worksheets:
            rows: list[list[str]] = []
            for values in sheet.iter_rows(values_only=True):  # lazily, stopped at the limits
                seen_rows += 1
                if seen_rows > limits.max_rows:
                    raise fail(
                        f"The Excel file has more than {limits.max_rows:,} rows; split it into smaller files.",
                        f"Excel ファイルの行数が {limits.max_rows:,} 行を超えています。小さいファイルに分けてください。",
                    )
                row = ["" if v is None else str(v).strip() for v in values]
                if any(row):
                    chars += sum(len(c) for c in row)
                    if chars > limits.max_chars:
                        raise too_many_chars(limits)
                    rows.append(row)
            if not rows:
                continue
            header = rows[0]
            qi = next((i for i, c in enumerate(header) if match_header(c, Q_HEADERS)), None)
            ai = next((i for i, c in enumerate(header) if match_header(c, A_HEADERS)), None)
            ci = next((i for i, c in enumerate(header) if match_header(c, C_HEADERS)), None)
            if qi is not None and ai is not None:
                for r in rows[1:]:
                    q = r[qi] if qi < len(r) else ""
                    a = r[ai] if ai < len(r) else ""
                    if q and a:
                        faq.append(FaqRow(q, a, r[ci] if ci is not None and ci < len(r) and r[ci] else None))
            else:
                blocks.append(Block(sheet.title, 2))
                blocks.append(Block("\n".join(" | ".join(c for c in r if c) for r in rows)))
    finally:
        workbook.close()
    if not faq and not any(b.text.strip() for b in blocks if b.level is None):
        raise fail("The Excel file has no rows.", "Excel ファイルにデータ行がありません。")
    return LoadedDocument(title=path.stem, blocks=blocks, faq=faq)


LOADERS: dict[str, Callable[[Path, Limits], LoadedDocument]] = {
    ".pdf": load_pdf,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".txt": load_text,
    ".text": load_text,
    ".docx": load_docx,
    ".xlsx": load_xlsx,
    ".html": load_html,
    ".htm": load_html,
}


# Formats read as text: more bytes than 4 per allowed character cannot fit the character limit (UTF-8 takes ≤ 4).
_TEXT_LIKE = {".md", ".markdown", ".txt", ".text", ".html", ".htm"}


def load(path: Path, *, limits: Limits = LIMITS) -> LoadedDocument:
    """The document in `path`, or an `IngestError` saying why not (including a file past `limits`)."""
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise fail(
            f"Unsupported file type {path.suffix!r}; supported: {', '.join(sorted(SUPPORTED))}.",
            f"対応していないファイル形式です（{path.suffix}）。対応形式: {', '.join(sorted(SUPPORTED))}",
        )
    size = path.stat().st_size
    if size == 0:
        raise fail("The file is empty.", "ファイルが空です。")
    if path.suffix.lower() in _TEXT_LIKE and size > 4 * limits.max_chars:
        raise too_many_chars(limits)
    doc = loader(path, limits)
    if doc.chars == 0:
        raise fail("The document has no text.", "文書に本文がありません。")
    if doc.chars > limits.max_chars:
        raise too_many_chars(limits)
    return doc
