#!/usr/bin/env python3
"""Regenerate the binary sample manuals in examples/manuals/ from the plain-text sources in examples/sources/.

    .venv/bin/python examples/build_manuals.py            # writes all four files
    .venv/bin/python examples/build_manuals.py --check    # also re-reads them and prints what pypdf etc. see

Sources -> outputs:
    sources/勤怠管理規程.md   -> manuals/勤怠管理規程.pdf   (reportlab, embedded IPAexGothic TrueType font)
    sources/経費精算規程.md   -> manuals/経費精算規程.docx  (python-docx; 章 = Heading 1, 条 = Heading 2)
    sources/備品管理規程.md   -> manuals/備品管理規程.txt   (plain text, CP932 / Shift_JIS, CRLF line ends)
    sources/よくある質問.csv  -> manuals/よくある質問.xlsx  (openpyxl; header 質問 / 回答 / カテゴリ)

The Markdown manuals (manuals/慶弔見舞金規程.md, manuals/office-guide-en.md) are edited in place; they have no source.

Source format (a small, strict subset of Markdown — one line is one paragraph):
    # タイトル                 document title (first line)
    plain lines before the first "##"   right-aligned lines under the title (company, 制定日, 改定日)
    ## 第N章　…  / ## 附則      chapter heading
    ### 第N条（…）              article heading
    | a | b |                    table row (consecutive rows form one table; the first row is the header)
    any other non-blank line     one paragraph; 「１　」「1.」「（１）」「(1)」 items get a hanging indent,
                                 lines starting with a full-width space are indented sub-lines
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
MANUALS = HERE / "manuals"

COMPANY = "株式会社みどり野商事"
AUTHOR = f"{COMPANY} 総務部"
FIXED_TIME = datetime(2024, 10, 1, 9, 0, 0)  # document metadata timestamps, so rebuilds differ as little as possible

# A Japanese TrueType font for the PDF (reportlab's TTFont needs TrueType outlines, not CFF-based .otf).
# Debian: apt-get install fonts-ipaexfont-gothic  (or fonts-ipafont-gothic)
FONT_CANDIDATES = [
    Path("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"),
    Path("/usr/share/fonts/truetype/ipaexfont-gothic/ipaexg.ttf"),
    Path("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"),
    Path("/usr/share/fonts/truetype/ipafont-gothic/ipag.ttf"),
    Path("/usr/share/fonts/truetype/fonts-japanese-gothic.ttf"),
]


# ---------------------------------------------------------------- source parsing

@dataclass
class Node:
    kind: str  # "chapter" | "article" | "para" | "table"
    text: str = ""
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class Source:
    title: str
    meta: list[str]
    nodes: list[Node]


def parse_source(path: Path) -> Source:
    lines = path.read_text(encoding="utf-8").splitlines()
    title = ""
    meta: list[str] = []
    nodes: list[Node] = []
    for raw in lines:
        line = raw.rstrip()
        if not line.strip():
            continue
        if line.startswith("### "):
            nodes.append(Node("article", line[4:].strip()))
        elif line.startswith("## "):
            nodes.append(Node("chapter", line[3:].strip()))
        elif line.startswith("# "):
            title = line[2:].strip()
        elif line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if all(set(c) <= set("-: ") for c in cells):
                continue  # Markdown separator row
            if nodes and nodes[-1].kind == "table":
                nodes[-1].rows.append(cells)
            else:
                nodes.append(Node("table", rows=[cells]))
        elif not nodes:
            meta.append(line.strip())
        else:
            nodes.append(Node("para", line))
    if not title:
        raise SystemExit(f"{path}: the first line must be '# タイトル'")
    return Source(title, meta, nodes)


def item_kind(text: str) -> str:
    """How a paragraph is indented: 'item' (１　/ 1. / １．), 'subitem' ((1) / （１）), 'sub' (leading 　), 'body'."""
    if text.startswith("\u3000"):
        return "sub"
    if text[:1] in "(（":
        return "subitem"
    head = text[:3]
    if head[:1].isdigit() and (("\u3000" in head) or ("." in head) or ("．" in head)):
        return "item"
    return "body"


# ---------------------------------------------------------------- PDF (勤怠管理規程)

def find_font() -> Path:
    for p in FONT_CANDIDATES:
        if p.exists():
            return p
    raise SystemExit(
        "No Japanese TrueType font found for the PDF. Install one, e.g.\n"
        "  apt-get install -y fonts-ipaexfont-gothic\n"
        f"(looked in: {', '.join(str(p) for p in FONT_CANDIDATES)})"
    )


def build_pdf(src: Source, out: Path) -> None:
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
    from reportlab.platypus.doctemplate import PageTemplate
    from reportlab.platypus.frames import Frame
    from xml.sax.saxutils import escape

    font = "JaGothic"
    pdfmetrics.registerFont(TTFont(font, str(find_font())))

    size = 10.5
    base = ParagraphStyle("base", fontName=font, fontSize=size, leading=size * 1.7, wordWrap="CJK", alignment=TA_LEFT)
    styles = {
        "title": ParagraphStyle("title", parent=base, fontSize=18, leading=26, alignment=TA_CENTER, spaceAfter=6 * mm),
        "meta": ParagraphStyle("meta", parent=base, alignment=TA_RIGHT, leading=size * 1.5),
        "chapter": ParagraphStyle("chapter", parent=base, fontSize=12.5, leading=20, spaceBefore=5 * mm, spaceAfter=1.5 * mm),
        "article": ParagraphStyle("article", parent=base, spaceBefore=3 * mm),
        "body": ParagraphStyle("body", parent=base, leftIndent=size, firstLineIndent=size),
        "item": ParagraphStyle("item", parent=base, leftIndent=size * 2, firstLineIndent=-size),
        "subitem": ParagraphStyle("subitem", parent=base, leftIndent=size * 4, firstLineIndent=-size * 3),
        "sub": ParagraphStyle("sub", parent=base, leftIndent=size * 2),
        "cell": ParagraphStyle("cell", parent=base, leading=size * 1.4),
    }

    story = [Paragraph(escape(src.title), styles["title"])]
    story += [Paragraph(escape(m), styles["meta"]) for m in src.meta]
    story.append(Spacer(1, 4 * mm))
    for node in src.nodes:
        if node.kind == "chapter":
            story.append(Paragraph(escape(node.text), styles["chapter"]))
            story[-1].keepWithNext = True
        elif node.kind == "article":
            p = Paragraph(escape(node.text), styles["article"])
            p.keepWithNext = True
            story.append(p)
        elif node.kind == "para":
            text = node.text[1:] if item_kind(node.text) == "sub" else node.text
            story.append(Paragraph(escape(text), styles[item_kind(node.text)]))
        elif node.kind == "table":
            data = [[Paragraph(escape(c), styles["cell"]) for c in row] for row in node.rows]
            widths = [95 * mm, 30 * mm] if len(node.rows[0]) == 2 else None
            table = Table(data, colWidths=widths, hAlign="LEFT", repeatRows=1)
            table.setStyle(TableStyle([
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (-1, -1), 2 * mm),
            ]))
            story.append(Spacer(1, 1 * mm))
            story.append(_indent(table, size * 2))
            story.append(Spacer(1, 2 * mm))

    def footer(canvas, doc):  # drawn at the end of each page so the page text starts with the regulation body
        canvas.saveState()
        canvas.setFont(font, 9)
        canvas.drawCentredString(A4[0] / 2, 12 * mm, f"- {doc.page} -")
        canvas.restoreState()

    doc = SimpleDocTemplate(
        str(out), pagesize=A4, leftMargin=22 * mm, rightMargin=22 * mm, topMargin=22 * mm, bottomMargin=22 * mm,
        title=src.title, author=AUTHOR, subject=f"{COMPANY} {src.title}", creator="examples/build_manuals.py",
        invariant=1, lang="ja-JP",
    )
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body")
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPageEnd=footer)])
    doc.build(story)


def _indent(flowable, width: float):
    from reportlab.platypus import Indenter, KeepTogether

    return KeepTogether([Indenter(left=width), flowable, Indenter(left=-width)])


# ---------------------------------------------------------------- DOCX (経費精算規程)

def build_docx(src: Source, out: Path) -> None:
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    document = docx.Document()
    jp_font = "游ゴシック"

    def set_font(style, size: float | None = None, bold: bool | None = None) -> None:
        style.font.name = jp_font
        rpr = style.element.get_or_add_rPr()
        rfonts = rpr.find(qn("w:rFonts"))
        if rfonts is None:
            rfonts = rpr.makeelement(qn("w:rFonts"), {})
            rpr.append(rfonts)
        for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
            rfonts.set(qn(attr), jp_font)
        for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
            rfonts.attrib.pop(qn(attr), None)
        style.font.color.rgb = RGBColor(0, 0, 0)
        if size:
            style.font.size = Pt(size)
        if bold is not None:
            style.font.bold = bold

    set_font(document.styles["Normal"], 10.5)
    set_font(document.styles["Title"], 18, True)
    set_font(document.styles["Heading 1"], 13, True)
    set_font(document.styles["Heading 2"], 10.5, True)
    document.styles["Normal"].paragraph_format.space_after = Pt(2)

    props = document.core_properties
    props.title = src.title
    props.author = AUTHOR
    props.last_modified_by = AUTHOR
    props.subject = f"{COMPANY} {src.title}"
    props.language = "ja-JP"
    props.created = FIXED_TIME
    props.modified = FIXED_TIME
    props.revision = 1

    title = document.add_paragraph(src.title, style="Title")
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for m in src.meta:
        p = document.add_paragraph(m)
        p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    for node in src.nodes:
        if node.kind == "chapter":
            document.add_heading(node.text, level=1)
        elif node.kind == "article":
            document.add_heading(node.text, level=2)
        elif node.kind == "para":
            kind = item_kind(node.text)
            p = document.add_paragraph(node.text.lstrip("\u3000") if kind == "sub" else node.text)
            fmt = p.paragraph_format
            if kind == "item":
                fmt.left_indent, fmt.first_line_indent = Pt(21), Pt(-10.5)
            elif kind == "subitem":
                fmt.left_indent, fmt.first_line_indent = Pt(42), Pt(-21)
            elif kind == "sub":
                fmt.left_indent = Pt(21)
            else:
                fmt.first_line_indent = Pt(10.5)
        elif node.kind == "table":
            table = document.add_table(rows=0, cols=len(node.rows[0]))
            table.style = "Table Grid"
            for row in node.rows:
                cells = table.add_row().cells
                for cell, value in zip(cells, row):
                    cell.text = value
    document.save(str(out))


# ---------------------------------------------------------------- CP932 text (備品管理規程)

def build_cp932_text(src: Source, out: Path) -> None:
    lines = [src.title, ""]
    lines += [m for m in src.meta]
    for node in src.nodes:
        if node.kind == "chapter":
            lines += ["", "", node.text]
        elif node.kind == "article":
            lines += ["", node.text]
        elif node.kind == "para":
            lines.append(node.text)
        elif node.kind == "table":
            lines += ["　" + "　".join(row) for row in node.rows]
    text = "\r\n".join(lines) + "\r\n"
    try:
        data = text.encode("cp932")  # strict: a character CP932 lacks (e.g. 〜 U+301C, − U+2212) is an error here
    except UnicodeEncodeError as exc:
        bad = text[exc.start:exc.end]
        raise SystemExit(f"{out.name}: {bad!r} (U+{ord(bad[0]):04X}) cannot be written in CP932; use another character") from exc
    out.write_bytes(data)


# ---------------------------------------------------------------- XLSX (よくある質問)

def build_xlsx(csv_path: Path, out: Path) -> None:
    import openpyxl
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.table import Table, TableStyleInfo

    with csv_path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], [r for r in rows[1:] if any(c.strip() for c in r)]
    if header != ["質問", "回答", "カテゴリ"]:
        raise SystemExit(f"{csv_path.name}: header must be 質問,回答,カテゴリ (got {header})")
    allowed = {"勤怠", "経費", "備品", "その他"}
    for i, r in enumerate(body, start=2):
        if len(r) != 3 or r[2] not in allowed:
            raise SystemExit(f"{csv_path.name}:{i}: expected 3 columns with カテゴリ in {sorted(allowed)}: {r}")

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "よくある質問"
    ws.append(header)
    for r in body:
        ws.append(r)
    ws.column_dimensions["A"].width = 40
    ws.column_dimensions["B"].width = 90
    ws.column_dimensions["C"].width = 10
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "A2"
    table = Table(displayName="FAQ", ref=f"A1:C{len(body) + 1}")
    table.tableStyleInfo = TableStyleInfo(name="TableStyleLight9", showRowStripes=True)
    ws.add_table(table)
    wb.properties.title = "よくある質問（総務部）"
    wb.properties.creator = AUTHOR
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    wb.save(str(out))


def normalize_zip(path: Path) -> None:
    """Give every member of a .docx / .xlsx the same timestamp, so an unchanged source rebuilds byte-identically."""
    import re
    import zipfile

    with zipfile.ZipFile(path) as zf:
        members = [(info, zf.read(info.filename)) for info in zf.infolist()]
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in members:
            if info.filename == "docProps/core.xml":  # openpyxl stamps the save time into dcterms:modified
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", lambda m: m.group(1) + stamp, data)
            zf.writestr(zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6]), data, zipfile.ZIP_DEFLATED)


# ---------------------------------------------------------------- check

def check() -> None:
    """Print what the readers see, so a broken font or encoding shows up immediately."""
    import docx
    import openpyxl
    from pypdf import PdfReader

    pdf = PdfReader(str(MANUALS / "勤怠管理規程.pdf"))
    print(f"勤怠管理規程.pdf: {len(pdf.pages)} pages, title={pdf.metadata.title!r}")
    for i, page in enumerate(pdf.pages, start=1):
        lines = [ln for ln in (page.extract_text() or "").splitlines() if ln.strip()]
        heads = [ln for ln in lines if ln.startswith("第") and "条" in ln[:5] and len(ln) < 40]
        print(f"  p{i}: {len(lines)} lines; articles: {', '.join(heads)}")
    d = docx.Document(str(MANUALS / "経費精算規程.docx"))
    heads = [p.text for p in d.paragraphs if p.style.name.startswith("Heading")]
    print(f"経費精算規程.docx: {len(d.paragraphs)} paragraphs, {len(heads)} headings (first: {heads[:2]})")
    raw = (MANUALS / "備品管理規程.txt").read_bytes()
    print(f"備品管理規程.txt: {len(raw)} bytes CP932; first line {raw.decode('cp932').splitlines()[0]!r}")
    wb = openpyxl.load_workbook(str(MANUALS / "よくある質問.xlsx"), read_only=True)
    rows = list(wb.active.iter_rows(values_only=True))
    print(f"よくある質問.xlsx: header {rows[0]}, {len(rows) - 1} rows")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="after building, print what pypdf / python-docx / openpyxl read back")
    args = parser.parse_args()
    MANUALS.mkdir(parents=True, exist_ok=True)
    build_pdf(parse_source(SOURCES / "勤怠管理規程.md"), MANUALS / "勤怠管理規程.pdf")
    build_docx(parse_source(SOURCES / "経費精算規程.md"), MANUALS / "経費精算規程.docx")
    build_cp932_text(parse_source(SOURCES / "備品管理規程.md"), MANUALS / "備品管理規程.txt")
    build_xlsx(SOURCES / "よくある質問.csv", MANUALS / "よくある質問.xlsx")
    normalize_zip(MANUALS / "経費精算規程.docx")
    normalize_zip(MANUALS / "よくある質問.xlsx")
    print(f"wrote {', '.join(p.name for p in sorted(MANUALS.iterdir()) if p.suffix in {'.pdf', '.docx', '.txt', '.xlsx'})}")
    if args.check:
        check()
    return 0


if __name__ == "__main__":
    sys.exit(main())
