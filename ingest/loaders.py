"""Loaders: turn a file into a `LoadedDocument` — a title, a category hint and a list of blocks.

A block is a heading (with a level) or body text, with the PDF page it came from. Every loader raises
`IngestError` with a reason a person can act on (corrupt, encrypted, empty, binary, undecodable, no text).
"""

from __future__ import annotations

import html
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from app.errors import IngestError

SUPPORTED = {".pdf", ".md", ".markdown", ".txt", ".text", ".docx", ".xlsx", ".html", ".htm"}


@dataclass
class Block:
    text: str
    level: int | None = None  # heading level (1 = document title); None for body text
    page: int | None = None


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


def _fail(en: str, ja: str) -> IngestError:
    return IngestError(en, ja)


# ---------- text decoding ----------

def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) or CP932 (Shift_JIS); refuses binaries and undecodable bytes."""
    if not data.strip():
        raise _fail("The file is empty.", "ファイルが空です。")
    if b"\x00" in data[:8192]:
        raise _fail("This looks like a binary file, not text (it contains NUL bytes).", "テキストではなくバイナリファイルのようです（NUL バイトを含みます）。")
    for encoding in ("utf-8-sig", "cp932"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\n\r\t\f")
        if controls > max(2, len(text) // 200):
            raise _fail("This looks like a binary file, not text (control characters).", "テキストではなくバイナリファイルのようです（制御文字を含みます）。")
        return text.replace("\r\n", "\n").replace("\r", "\n")
    raise _fail(
        "The text is neither UTF-8 nor Shift_JIS (CP932); save it as UTF-8 and re-ingest.",
        "文字コードが UTF-8 でも Shift_JIS（CP932）でもありません。UTF-8 で保存して再取り込みしてください。",
    )


# ---------- Japanese regulation structure in plain text ----------

_NUM = r"[0-9０-９一二三四五六七八九十百]+"
_CHAPTER = re.compile(rf"^\s*(第{_NUM}編|第{_NUM}章)(?:[\s　]|$)")
_SECTION = re.compile(rf"^\s*第{_NUM}節(?:[\s　]|$)")
_ARTICLE = re.compile(rf"^\s*第{_NUM}条(?:の{_NUM})?(?:[\s　（(]|$)")
_APPENDIX = re.compile(r"^\s*(附\s*則|別表\s*[0-9０-９]*)\s*$")


def heading_level(line: str) -> int | None:
    """The heading level of a plain-text line in a Japanese regulation, or None for body text."""
    if len(line) > 60:
        return None
    if _CHAPTER.match(line):
        return 2
    if _SECTION.match(line):
        return 3
    if _ARTICLE.match(line):
        # 「第3条　会社は…」 with a long body on the same line is an article heading too, but keep short ones only.
        return 4
    if _APPENDIX.match(line):
        return 2
    return None


def _plain_blocks(text: str, page: int | None = None) -> list[Block]:
    blocks: list[Block] = []
    body: list[str] = []

    def flush() -> None:
        if any(s.strip() for s in body):
            blocks.append(Block("\n".join(body).strip("\n"), None, page))
        body.clear()

    for line in text.split("\n"):
        level = heading_level(line.strip())
        if level is not None:
            flush()
            blocks.append(Block(line.strip(), level, page))
        else:
            body.append(line.rstrip())
    flush()
    return blocks


# ---------- Markdown ----------

_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
_LIQUID = re.compile(r"\{%.*?%\}|\{\{.*?\}\}", re.S)
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_HTML_TAG = re.compile(r"<[^>]+>")


def _front_matter(text: str) -> tuple[dict, str]:
    m = _FRONT.match(text)
    if not m:
        return {}, text
    try:
        meta = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError:
        meta = {}
    return (meta if isinstance(meta, dict) else {}), text[m.end():]


def _clean_md(line: str) -> str:
    line = _MD_LINK.sub(r"\1", line)
    line = _HTML_TAG.sub("", line)
    return html.unescape(line)


def load_markdown_text(text: str, fallback_title: str) -> LoadedDocument:
    meta, body = _front_matter(text)
    body = _LIQUID.sub("", body)
    blocks: list[Block] = []
    buf: list[str] = []
    in_code = False

    def flush() -> None:
        if any(s.strip() for s in buf):
            blocks.append(Block("\n".join(buf).strip("\n")))
        buf.clear()

    for line in body.split("\n"):
        if line.lstrip().startswith("```"):
            in_code = not in_code
            buf.append(line)
            continue
        m = None if in_code else _MD_HEADING.match(line)
        if m:
            flush()
            blocks.append(Block(_clean_md(m.group(2)).strip(), len(m.group(1))))
        else:
            buf.append(_clean_md(line.rstrip()))
    flush()
    title = _clean_md(str(meta.get("title") or "")).strip() or next((b.text for b in blocks if b.level == 1), "") or fallback_title
    redirect = str(meta.get("redirect_to") or "").strip()
    if redirect and not any(b.text.strip() for b in blocks if b.level is None):
        # A page that only points elsewhere (Jekyll `redirect_to`): keep it findable, pointing to the new place.
        blocks = [Block(f"{title}: {redirect}")]
        meta.setdefault("url", redirect)
    return LoadedDocument(
        title=title,
        blocks=blocks,
        category=str(meta["category"]).strip() if meta.get("category") else None,
        url=str(meta["url"]).strip() if meta.get("url") else None,
    )


# ---------- per-format loaders ----------

def load_pdf(path: Path) -> LoadedDocument:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception:  # noqa: BLE001
                ok = 0
            if not ok:
                raise _fail("The PDF is password-protected; remove the password and re-ingest.", "PDF にパスワードが掛かっています。解除してから再取り込みしてください。")
        pages = [(i + 1, page.extract_text() or "") for i, page in enumerate(reader.pages)]
    except IngestError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise _fail(f"The PDF is corrupt or unreadable: {exc}", f"PDF が壊れているか読み取れません: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds on broken files
        raise _fail(f"The PDF is corrupt or unreadable: {exc}", f"PDF が壊れているか読み取れません: {exc}") from exc
    if not pages:
        raise _fail("The PDF has no pages.", "PDF にページがありません。")
    if not any(text.strip() for _, text in pages):
        raise _fail(
            "No text could be extracted from the PDF (a scanned image?); OCR it or provide a text version.",
            "PDF からテキストを抽出できません（スキャン画像の可能性）。OCR するかテキスト版を用意してください。",
        )
    blocks: list[Block] = []
    for number, text in pages:
        blocks.extend(_plain_blocks(unwrap_lines(unicodedata.normalize("NFKC", text)), page=number))
    title = _title_from_meta(reader) or _first_line(blocks) or path.stem
    return LoadedDocument(title=title, blocks=blocks)


_ENDS_SENTENCE = re.compile(r"[。．.!！?？:：」）)]\s*$")
_STARTS_ITEM = re.compile(r"^\s*(?:[0-9０-９]+[\s.．、)）]|[（(][0-9０-９一二三四五六七八九十]+[)）]|[・\-*•●○◆■①-⑳]|第[0-9０-９]+[章節条])")
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


def load_text(path: Path) -> LoadedDocument:
    text = decode_text(path.read_bytes())
    blocks = _plain_blocks(text)
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


def load_markdown(path: Path) -> LoadedDocument:
    return load_markdown_text(decode_text(path.read_bytes()), path.stem)


def load_docx(path: Path) -> LoadedDocument:
    import docx

    try:
        document = docx.Document(str(path))
    except Exception as exc:  # noqa: BLE001 - python-docx raises zipfile/KeyError/ValueError on broken files
        raise _fail(f"The Word file is corrupt or not a .docx: {exc}", f"Word ファイルが壊れているか .docx ではありません: {exc}") from exc
    blocks: list[Block] = []
    title = (document.core_properties.title or "").strip()
    for para in document.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        style = (para.style.name or "").lower() if para.style is not None else ""
        level = None
        if style == "title":
            level = 1
        elif style.startswith("heading"):
            digits = "".join(ch for ch in style if ch.isdigit())
            level = min(6, int(digits) + 1) if digits else 2
        else:
            level = heading_level(text)
        if level == 1 and not title:
            title = text
        blocks.append(Block(text, level))
    for table in document.tables:
        rows = [" | ".join(cell.text.strip() for cell in row.cells) for row in table.rows]
        if rows:
            blocks.append(Block("\n".join(rows)))
    if not any(b.text.strip() for b in blocks):
        raise _fail("The Word file has no text.", "Word ファイルに本文がありません。")
    return LoadedDocument(title=title or path.stem, blocks=blocks)


_Q_HEADERS = ("質問", "問", "q", "question", "faq")
_A_HEADERS = ("回答", "答", "a", "answer")
_C_HEADERS = ("カテゴリ", "カテゴリー", "分類", "category")


def _match_header(cell: str, names: tuple[str, ...]) -> bool:
    cell = cell.strip().lower()
    return any(cell == n or (len(n) > 1 and cell.startswith(n)) for n in names)


def load_xlsx(path: Path) -> LoadedDocument:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001
        raise _fail(f"The Excel file is corrupt or not an .xlsx: {exc}", f"Excel ファイルが壊れているか .xlsx ではありません: {exc}") from exc
    faq: list[FaqRow] = []
    blocks: list[Block] = []
    try:
        for sheet in workbook.worksheets:
            rows = [["" if v is None else str(v).strip() for v in row] for row in sheet.iter_rows(values_only=True)]
            rows = [r for r in rows if any(r)]
            if not rows:
                continue
            header = rows[0]
            qi = next((i for i, c in enumerate(header) if _match_header(c, _Q_HEADERS)), None)
            ai = next((i for i, c in enumerate(header) if _match_header(c, _A_HEADERS)), None)
            ci = next((i for i, c in enumerate(header) if _match_header(c, _C_HEADERS)), None)
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
        raise _fail("The Excel file has no rows.", "Excel ファイルにデータ行がありません。")
    return LoadedDocument(title=path.stem, blocks=blocks, faq=faq)


def load_html(path: Path) -> LoadedDocument:
    from bs4 import BeautifulSoup

    raw = path.read_bytes()
    if not raw.strip():
        raise _fail("The file is empty.", "ファイルが空です。")
    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(["script", "style", "nav", "header", "footer", "noscript"]):
        tag.decompose()
    blocks: list[Block] = []
    root = soup.body or soup
    for el in root.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "td", "dd", "dt"]):
        if el.find(["p", "li", "h1", "h2", "h3", "h4", "h5", "h6"]) is not None:
            continue  # containers: their children are visited on their own
        text = el.get_text(" ", strip=True)
        if not text:
            continue
        if el.name[0] == "h" and el.name[1:].isdigit():
            blocks.append(Block(text, int(el.name[1:])))
        else:
            blocks.append(Block(("- " if el.name == "li" else "") + text, heading_level(text)))
    if not blocks:
        raise _fail("The HTML page has no text.", "HTML に本文がありません。")
    title = (soup.title.get_text(strip=True) if soup.title else "") or next((b.text for b in blocks if b.level == 1), path.stem)
    return LoadedDocument(title=title, blocks=blocks)


LOADERS = {
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


def load(path: Path) -> LoadedDocument:
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise _fail(
            f"Unsupported file type {path.suffix!r}; supported: {', '.join(sorted(SUPPORTED))}.",
            f"対応していないファイル形式です（{path.suffix}）。対応形式: {', '.join(sorted(SUPPORTED))}",
        )
    if path.stat().st_size == 0:
        raise _fail("The file is empty.", "ファイルが空です。")
    doc = loader(path)
    if doc.chars == 0:
        raise _fail("The document has no text.", "文書に本文がありません。")
    return doc
