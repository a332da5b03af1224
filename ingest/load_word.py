"""Word (.docx): paragraphs and tables in document order, heading styles, and the numbers Word generates.

A company that numbers its articles with Word's automatic list numbering (a list level whose text is 「第%1条」)
has no 「第N条」 in any paragraph's text: it lives in numbering.xml. We compute those labels the way Word does
(a counter per list and level, restarted below a higher level, start values and formats from the definition) so
the section path names the article.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ingest.document import LIMITS, Limits, LoadedDocument, check_zip, fail, too_many_chars
from ingest.structure import ARTICLE_LEVEL, Block, format_number, heading_level, numbered_heading, recover_articles

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


@dataclass
class _Level:
    fmt: str = "decimal"
    text: str = "%1."
    start: int = 1


@dataclass
class _Numbering:
    """numId → abstract levels, and the running counters of each list."""

    levels: dict[str, dict[int, _Level]] = field(default_factory=dict)
    start_overrides: dict[str, dict[int, int]] = field(default_factory=dict)
    counters: dict[str, dict[int, int]] = field(default_factory=dict)

    @classmethod
    def of(cls, document) -> _Numbering:
        out = cls()
        try:
            root = document.part.numbering_part.element
        except (NotImplementedError, KeyError, AttributeError):
            return out
        abstract: dict[str, dict[int, _Level]] = {}
        for an in root.iter(f"{_W}abstractNum"):
            levels: dict[int, _Level] = {}
            for lvl in an.iter(f"{_W}lvl"):
                ilvl = int(lvl.get(f"{_W}ilvl", "0"))
                fmt = lvl.find(f"{_W}numFmt")
                text = lvl.find(f"{_W}lvlText")
                start = lvl.find(f"{_W}start")
                levels[ilvl] = _Level(
                    fmt=fmt.get(f"{_W}val", "decimal") if fmt is not None else "decimal",
                    text=text.get(f"{_W}val", "") if text is not None else "",
                    start=int(start.get(f"{_W}val", "1")) if start is not None else 1,
                )
            abstract[an.get(f"{_W}abstractNumId", "")] = levels
        for num in root.iter(f"{_W}num"):
            num_id = num.get(f"{_W}numId", "")
            ref = num.find(f"{_W}abstractNumId")
            if ref is None:
                continue
            out.levels[num_id] = abstract.get(ref.get(f"{_W}val", ""), {})
            for ov in num.iter(f"{_W}lvlOverride"):
                so = ov.find(f"{_W}startOverride")
                if so is not None:
                    out.start_overrides.setdefault(num_id, {})[int(ov.get(f"{_W}ilvl", "0"))] = int(
                        so.get(f"{_W}val", "1")
                    )
        return out

    def label(self, num_id: str, ilvl: int) -> str:
        """Advance the list's counter at `ilvl` and return the generated label (e.g. 「第3条」, 「2.」, 「(1)」)."""
        levels = self.levels.get(num_id)
        if not levels or num_id == "0":
            return ""
        counters = self.counters.setdefault(num_id, {})
        lvl = levels.get(ilvl, _Level())
        start = self.start_overrides.get(num_id, {}).get(ilvl, lvl.start)
        counters[ilvl] = counters.get(ilvl, start - 1) + 1
        for deeper in [k for k in counters if k > ilvl]:
            del counters[deeper]
        text = lvl.text
        for k in range(9):
            token = f"%{k + 1}"
            if token in text:
                sub = levels.get(k, _Level())
                value = counters.get(k, self.start_overrides.get(num_id, {}).get(k, sub.start))
                text = text.replace(token, format_number(value, sub.fmt))
        return "" if lvl.fmt == "bullet" else text


def _num_pr(paragraph) -> tuple[str, int] | None:
    """The paragraph's list membership (numId, ilvl): its own numPr, else its style's (following basedOn)."""
    p_pr = paragraph._p.pPr
    candidates = [p_pr.find(f"{_W}numPr") if p_pr is not None else None]
    style = paragraph.style
    seen = 0
    while style is not None and seen < 10:
        s_pr = style.element.find(f"{_W}pPr")
        candidates.append(s_pr.find(f"{_W}numPr") if s_pr is not None else None)
        style = style.base_style
        seen += 1
    for num_pr in candidates:
        if num_pr is None:
            continue
        num_id = num_pr.find(f"{_W}numId")
        ilvl = num_pr.find(f"{_W}ilvl")
        if num_id is not None:
            return num_id.get(f"{_W}val", "0"), int(ilvl.get(f"{_W}val", "0")) if ilvl is not None else 0
    return None


def _style_level(paragraph) -> int | None:
    style = (paragraph.style.name or "").lower() if paragraph.style is not None else ""
    if style == "title":
        return 1
    if style.startswith("heading") or style.startswith("見出し"):
        digits = "".join(ch for ch in style if ch.isdigit())
        return min(6, int(digits) + 1) if digits else 2
    return None


def table_rows(rows: list[list[str]]) -> str:
    """A table as one line per row, cells joined by 「 | 」 (merged cells repeated by Word are written once)."""
    lines = []
    for cells in rows:
        kept: list[str] = []
        for c in cells:
            c = " ".join(c.split())
            if not kept or c != kept[-1]:
                kept.append(c)
        if any(kept):
            lines.append(" | ".join(kept))
    return "\n".join(lines)


def load_docx(path: Path, limits: Limits = LIMITS) -> LoadedDocument:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    check_zip(path, limits, kind="Word")  # before python-docx inflates anything
    try:
        document = docx.Document(str(path))
    except Exception as exc:  # noqa: BLE001 - python-docx raises zipfile/KeyError/ValueError on broken files
        raise fail(
            f"The Word file is corrupt or not a .docx: {exc}",
            f"Word ファイルが壊れているか .docx ではありません: {exc}",
        ) from exc
    numbering = _Numbering.of(document)
    blocks: list[Block] = []
    title = (document.core_properties.title or "").strip()
    body = document.element.body
    chars = 0
    for child in body.iterchildren():
        if chars > limits.max_chars:
            raise too_many_chars(limits)
        if child.tag == f"{_W}tbl":
            table = Table(child, document)
            rows = [[cell.text for cell in row.cells] for row in table.rows]
            text = table_rows(rows)
            if text:
                chars += len(text)
                blocks.append(Block(text))
            continue
        if child.tag != f"{_W}p":
            continue
        para = Paragraph(child, document)
        text = para.text.strip()
        num = _num_pr(para)
        label = numbering.label(*num) if num else ""
        if not text and not label:
            continue
        level = _style_level(para)
        body_text = ""
        if label:
            joined, label_level, body_text = numbered_heading(label, text)
            if label_level is not None:
                level = label_level if level is None or label_level == ARTICLE_LEVEL else level
                text = joined
            else:
                text = joined if level is None else text
        if level is None:
            level = heading_level(text)
        if level == 1 and not title:
            title = text
        chars += len(text) + len(body_text)
        blocks.append(Block(text, level))
        if body_text:
            blocks.append(Block(body_text))
    if not any(b.text.strip() for b in blocks):
        raise fail("The Word file has no text.", "Word ファイルに本文がありません。")
    return LoadedDocument(title=title or path.stem, blocks=recover_articles(blocks))
