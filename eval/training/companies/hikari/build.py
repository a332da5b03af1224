"""Build the generated documents of the fictional company ひかりフーズ株式会社 (training data only).

Reads the plain sources in ``sources/`` and writes the ingestable files into ``docs/``:

* パートタイマー・アルバイト就業規則.txt  -> docs/パートタイマー・アルバイト就業規則.docx (python-docx, Heading 1/2, 比例付与 table)
* 賃金規程.txt                          -> docs/賃金規程.pdf (reportlab, Japanese CID font, 手当 table)
* 出張旅費規程.txt                      -> docs/出張旅費規程.html (internal wiki export, h2/h3, 日当・宿泊費 table)
* 契約社員就業規則.txt (UTF-8)          -> docs/契約社員就業規則.txt (Shift_JIS / cp932, CRLF)
* よくある質問.tsv                      -> docs/よくある質問.xlsx (openpyxl, header 質問/回答/カテゴリ)

The Markdown regulations are written by hand directly in ``docs/`` and are not touched here.

Mini markup of the .txt sources (except 契約社員就業規則.txt, which is copied as plain text):
    = タイトル              document title
    # 第1章 総則            chapter (also 「# 附則」)
    ## 第1条（目的）        article
    |a|b|c                  table row (the first row of a run is the header)
    anything else           a paragraph; 「1. 」 starts a clause, 「(1) 」 an item

Run from the repository root:  python eval/training/companies/hikari/build.py
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
DOCS = HERE / "docs"
FIXED_TIME = dt.datetime(2026, 4, 1, 9, 0, 0)
COMPANY = "ひかりフーズ株式会社"


# ---------- mini markup ----------

@dataclass
class Node:
    kind: str  # title | chapter | article | para | table
    text: str = ""
    rows: list[list[str]] = field(default_factory=list)


def parse(path: Path) -> list[Node]:
    nodes: list[Node] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.rstrip()
        if not line.strip():
            continue
        if line.startswith("= "):
            nodes.append(Node("title", line[2:].strip()))
        elif line.startswith("## "):
            nodes.append(Node("article", line[3:].strip()))
        elif line.startswith("# "):
            nodes.append(Node("chapter", line[2:].strip()))
        elif line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if nodes and nodes[-1].kind == "table":
                nodes[-1].rows.append(cells)
            else:
                nodes.append(Node("table", rows=[cells]))
        else:
            nodes.append(Node("para", line.strip()))
    return nodes


def is_item(text: str) -> bool:
    return bool(re.match(r"^\(\d+\)\s", text))


# ---------- docx ----------

def build_docx(src: Path, out: Path) -> None:
    import docx
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    nodes = parse(src)
    document = docx.Document()
    normal = document.styles["Normal"]
    normal.font.name = "游明朝"
    normal.font.size = Pt(10.5)
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), "游明朝")
    for name in ("Title", "Heading 1", "Heading 2"):
        style = document.styles[name]
        style.font.name = "游ゴシック"
        style.element.rPr.rFonts.set(qn("w:eastAsia"), "游ゴシック")
    section = document.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)
    section.left_margin = section.right_margin = Cm(2.2)
    section.header.paragraphs[0].text = f"{COMPANY}　社内規程"

    title = next((n.text for n in nodes if n.kind == "title"), src.stem)
    props = document.core_properties
    props.title = title
    props.author = f"{COMPANY} 総務部人事課"
    props.created = props.modified = FIXED_TIME
    props.last_modified_by = "総務部人事課"
    props.revision = 7

    for node in nodes:
        if node.kind == "title":
            document.add_paragraph(node.text, style="Title")
        elif node.kind == "chapter":
            document.add_paragraph(node.text, style="Heading 1")
        elif node.kind == "article":
            document.add_paragraph(node.text, style="Heading 2")
        elif node.kind == "para":
            p = document.add_paragraph(node.text)
            if is_item(node.text):
                p.paragraph_format.left_indent = Cm(1.0)
            elif re.match(r"^\d+\.\s", node.text):
                p.paragraph_format.left_indent = Cm(0.4)
                p.paragraph_format.first_line_indent = Cm(-0.4)
        elif node.kind == "table":
            table = document.add_table(rows=len(node.rows), cols=len(node.rows[0]))
            table.style = "Table Grid"
            table.alignment = WD_TABLE_ALIGNMENT.CENTER
            for r, row in enumerate(node.rows):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
                    if r == 0:
                        for run in table.cell(r, c).paragraphs[0].runs:
                            run.bold = True
            document.add_paragraph("")
    document.save(str(out))


# ---------- pdf ----------

def build_pdf(src: Path, out: Path) -> None:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    pdfmetrics.registerFont(UnicodeCIDFont("HeiseiKakuGo-W5"))
    pdfmetrics.registerFont(UnicodeCIDFont("HeiseiMin-W3"))
    gothic, mincho = "HeiseiKakuGo-W5", "HeiseiMin-W3"

    styles = {
        "title": ParagraphStyle("title", fontName=gothic, fontSize=18, leading=26, alignment=1, spaceAfter=4 * mm),
        "chapter": ParagraphStyle("chapter", fontName=gothic, fontSize=13, leading=18, spaceBefore=5 * mm, spaceAfter=2 * mm),
        "article": ParagraphStyle("article", fontName=gothic, fontSize=11, leading=16, spaceBefore=3 * mm, spaceAfter=1 * mm),
        "para": ParagraphStyle("para", fontName=mincho, fontSize=10, leading=16, wordWrap="CJK", leftIndent=4 * mm, firstLineIndent=0),
        "item": ParagraphStyle("item", fontName=mincho, fontSize=10, leading=16, wordWrap="CJK", leftIndent=10 * mm),
        "cell": ParagraphStyle("cell", fontName=mincho, fontSize=9, leading=12, wordWrap="CJK"),
        "head": ParagraphStyle("head", fontName=gothic, fontSize=9, leading=12, wordWrap="CJK"),
    }
    nodes = parse(src)
    title = next((n.text for n in nodes if n.kind == "title"), src.stem)
    story = []
    for node in nodes:
        if node.kind in ("title", "chapter", "article"):
            story.append(Paragraph(html.escape(node.text), styles[node.kind]))
        elif node.kind == "para":
            story.append(Paragraph(html.escape(node.text), styles["item" if is_item(node.text) else "para"]))
        elif node.kind == "table":
            data = [[Paragraph(html.escape(c), styles["head" if r == 0 else "cell"]) for c in row] for r, row in enumerate(node.rows)]
            table = Table(data, colWidths=[32 * mm, 50 * mm, 28 * mm, 50 * mm], repeatRows=1)
            table.setStyle(TableStyle([
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8EEF4")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]))
            story.extend([Spacer(1, 2 * mm), table, Spacer(1, 3 * mm)])

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont(mincho, 8)
        canvas.drawString(20 * mm, 12 * mm, f"{COMPANY}　{title}")
        canvas.drawRightString(190 * mm, 12 * mm, f"- {doc.page} -")
        canvas.restoreState()

    doc = SimpleDocTemplate(
        str(out), pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=20 * mm, bottomMargin=22 * mm,
        title=title, author=f"{COMPANY} 総務部人事課", subject="社内規程", invariant=1,
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)


# ---------- html (internal wiki export) ----------

def build_html(src: Path, out: Path) -> None:
    nodes = parse(src)
    title = next((n.text for n in nodes if n.kind == "title"), src.stem)
    body: list[str] = []
    items: list[str] = []

    def flush_items() -> None:
        if items:
            body.append('<ul class="article-items">\n' + "\n".join(f"  <li>{html.escape(i)}</li>" for i in items) + "\n</ul>")
            items.clear()

    n_chapter = 0
    for node in nodes:
        if node.kind != "para" or not is_item(node.text):
            flush_items()
        if node.kind == "title":
            body.append(f'<h1 id="title-heading" class="pagetitle">{html.escape(node.text)}</h1>')
        elif node.kind == "chapter":
            n_chapter += 1
            body.append(f'<h2 id="chapter-{n_chapter}">{html.escape(node.text)}</h2>')
        elif node.kind == "article":
            m = re.match(r"第(\d+)条", node.text)
            anchor = f"art-{m.group(1)}" if m else "art"
            body.append(f'<h3 id="{anchor}">{html.escape(node.text)}</h3>')
        elif node.kind == "para":
            if is_item(node.text):
                items.append(node.text)
            else:
                body.append(f"<p>{html.escape(node.text)}</p>")
        elif node.kind == "table":
            head, *rows = node.rows
            lines = ['<div class="table-wrap"><table class="wikiTable">', "<thead><tr>"]
            lines += [f'  <th class="wikiTh">{html.escape(c)}</th>' for c in head]
            lines += ["</tr></thead>", "<tbody>"]
            for row in rows:
                lines.append("<tr>" + "".join(f'<td class="wikiTd">{html.escape(c)}</td>' for c in row) + "</tr>")
            lines += ["</tbody>", "</table></div>"]
            body.append("\n".join(lines))
    flush_items()
    page = f"""<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<title>{html.escape(title)} - 規程集 - ひかりWiki</title>
<meta name="generator" content="HikariWiki 3.2 export">
<style>body{{font-family:sans-serif;max-width:960px;margin:auto}} table{{border-collapse:collapse}} th,td{{border:1px solid #999;padding:4px 8px}}</style>
</head>
<body>
<header id="wiki-header"><a href="/wiki/">ひかりWiki</a> ｜ <a href="/wiki/soumu/">総務部スペース</a> ｜ ログイン中：export</header>
<nav class="breadcrumbs"><a href="/wiki/soumu/">総務部</a> &gt; <a href="/wiki/soumu/kitei/">規程集</a> &gt; {html.escape(title)}</nav>
<div id="main-content" class="wiki-content">
<div class="page-metadata">作成者：総務部　最終更新日：2026年4月1日（経理部 確認済）</div>
{chr(10).join(body)}
</div>
<footer id="wiki-footer">このページは社内Wikiからエクスポートされました（エクスポート日時 2026-04-01 09:00）。最新版はひかりWikiを参照してください。</footer>
</body>
</html>
"""
    out.write_text(page, encoding="utf-8")


# ---------- cp932 text ----------

def build_cp932(src: Path, out: Path) -> None:
    text = src.read_text(encoding="utf-8").replace("\r\n", "\n")
    data = text.replace("\n", "\r\n").encode("cp932")  # raises if a character is missing from cp932
    out.write_bytes(data)


# ---------- xlsx ----------

def build_xlsx(src: Path, out: Path) -> None:
    import openpyxl
    from openpyxl.styles import Alignment, Font, PatternFill

    with src.open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.reader(fh, delimiter="\t") if any(c.strip() for c in r)]
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "よくある質問"
    for row in rows:
        sheet.append(row)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.column_dimensions["A"].width = 48
    sheet.column_dimensions["B"].width = 90
    sheet.column_dimensions["C"].width = 10
    sheet.freeze_panes = "A2"
    props = workbook.properties
    props.title = "よくある質問（総務部）"
    props.creator = f"{COMPANY} 総務部"
    props.created = props.modified = FIXED_TIME
    workbook.save(str(out))


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    jobs = [
        (build_docx, "パートタイマー・アルバイト就業規則.txt", "パートタイマー・アルバイト就業規則.docx"),
        (build_pdf, "賃金規程.txt", "賃金規程.pdf"),
        (build_html, "出張旅費規程.txt", "出張旅費規程.html"),
        (build_cp932, "契約社員就業規則.txt", "契約社員就業規則.txt"),
        (build_xlsx, "よくある質問.tsv", "よくある質問.xlsx"),
    ]
    for func, src_name, out_name in jobs:
        out = DOCS / out_name
        func(SOURCES / src_name, out)
        print(f"wrote {out.relative_to(HERE)} ({out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
