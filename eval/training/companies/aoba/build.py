#!/usr/bin/env python3
"""Build the regulations of the fictional 株式会社あおば精機 (training data only) from sources/ into docs/.

    python eval/training/companies/aoba/build.py            # writes every file in docs/
    python eval/training/companies/aoba/build.py --check    # also reads the outputs back and prints what they hold

Sources -> outputs (each output deliberately uses a different way of marking articles):

    sources/就業規則.md              -> docs/就業規則.docx          python-docx; 章 = Heading 1; the 第N条 label is produced by Word
                                                                   automatic numbering (abstractNum lvlText "第%1条"), the
                                                                   paragraph text is only the caption 「（目的）」
    sources/賃金規程.md              -> docs/賃金規程.html          wiki export; articles are <h3> captions numbered by a CSS counter
                                                                   (h3::before {content: "第" counter(art) "条"})
    sources/情報セキュリティ規程.md  -> docs/情報セキュリティ規程.html  wiki export; articles are <li> of <ol start=N> per chapter,
                                                                   each starting with <strong>（caption）</strong>; 項 are a nested <ol>
    sources/旅費規程.md              -> docs/旅費規程.pdf           reportlab, CID font HeiseiKakuGo-W5, visible 第N条 headings, a real table
    sources/育児・介護休業規程.md    -> docs/育児・介護休業規程.md   Markdown; no 第N条 anywhere: ### caption headings (章1-3) and
                                                                   bold caption lines **（…）** (章4-6)
    sources/慶弔見舞金規程.md        -> docs/慶弔見舞金規程.md       static-site-generator export: YAML front matter, headings as
                                                                   ## caption, {{< heading title="…" >}} or {% include article.html title="…" %}
    sources/備品・貸与PC管理規程.md  -> docs/備品・貸与PC管理規程.txt  plain text UTF-8, visible 第N条（見出し） lines
    sources/よくある質問.csv         -> docs/よくある質問.xlsx       openpyxl, header 質問 / 回答 / カテゴリ
    sources/office-guide-en.md       -> docs/office-guide-en.md     copied as is (front matter lang: en, category: other)

Source format (one line = one paragraph):
    # タイトル                       first line
    plain lines before the first ##  company name, 制定日, 改定日
    ## 第N章 …  / ## 附則             chapter
    ### 第N条（見出し）               article (the number is dropped by the formats that do not show it)
    1. text                          項 (numbered paragraph)
    (1) text                         号 (item)
    | a | b |                        table row; consecutive rows are one table, the first row is the header
    anything else                    a plain paragraph
"""

from __future__ import annotations

import argparse
import csv
import html
import re
import shutil
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
DOCS = HERE / "docs"

COMPANY = "株式会社あおば精機"
AUTHOR = f"{COMPANY} 総務部"
FIXED_TIME = datetime(2026, 4, 1, 9, 0, 0)

FW_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")


# ---------------------------------------------------------------- source model


@dataclass
class Block:
    kind: str  # "kou" | "go" | "para" | "table"
    text: str = ""
    num: int | None = None
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class Article:
    num: int
    caption: str  # without brackets
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Chapter:
    title: str  # "第1章 総則", "附則" or "" (no chapters)
    articles: list[Article] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)  # body of 附則


@dataclass
class Regulation:
    title: str
    meta: list[str]
    chapters: list[Chapter]

    @property
    def articles(self) -> list[Article]:
        return [a for c in self.chapters for a in c.articles]


_ART = re.compile(r"^### 第(\d+)条（(.+)）$")
_KOU = re.compile(r"^(\d+)\. (.+)$")
_GO = re.compile(r"^\((\d+)\) (.+)$")


def parse(path: Path) -> Regulation:
    lines = [ln.rstrip() for ln in path.read_text(encoding="utf-8").splitlines()]
    if not lines or not lines[0].startswith("# "):
        sys.exit(f"{path.name}: the first line must be '# タイトル'")
    reg = Regulation(title=lines[0][2:].strip(), meta=[], chapters=[])
    chapter: Chapter | None = None
    article: Article | None = None
    expected = 1
    for n, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        if line.startswith("## "):
            chapter = Chapter(title=line[3:].strip())
            reg.chapters.append(chapter)
            article = None
            continue
        m = _ART.match(line)
        if m:
            if int(m.group(1)) != expected:
                sys.exit(f"{path.name}:{n}: expected 第{expected}条, found 第{m.group(1)}条")
            expected += 1
            if chapter is None:
                chapter = Chapter(title="")
                reg.chapters.append(chapter)
            article = Article(num=int(m.group(1)), caption=m.group(2))
            chapter.articles.append(article)
            continue
        if chapter is None:
            reg.meta.append(line.strip())
            continue
        target = article.blocks if article else chapter.blocks
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if target and target[-1].kind == "table":
                target[-1].rows.append(cells)
            else:
                target.append(Block("table", rows=[cells]))
        elif m := _KOU.match(line):
            target.append(Block("kou", m.group(2), int(m.group(1))))
        elif m := _GO.match(line):
            target.append(Block("go", m.group(2), int(m.group(1))))
        else:
            target.append(Block("para", line.strip()))
    return reg


# ---------------------------------------------------------------- Word (.docx) with automatic 第%1条 numbering


def build_docx(reg: Regulation, out: Path) -> None:
    from docx import Document
    from docx.enum.style import WD_STYLE_TYPE
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    doc = Document()
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Mm(210), Mm(297)
    sec.left_margin = sec.right_margin = Mm(25)

    def east_asian(style, name="游明朝"):
        rpr = style.element.get_or_add_rPr()
        fonts = rpr.find(qn("w:rFonts"))
        if fonts is None:
            fonts = OxmlElement("w:rFonts")
            rpr.insert(0, fonts)
        fonts.set(qn("w:eastAsia"), name)

    normal = doc.styles["Normal"]
    normal.font.size = Pt(10.5)
    east_asian(normal)
    for name in ("Title", "Heading 1"):
        east_asian(doc.styles[name], "游ゴシック")

    caption_style = doc.styles.add_style("条見出し", WD_STYLE_TYPE.PARAGRAPH)
    caption_style.element.styleId = "ArticleCaption"
    caption_style.base_style = normal
    caption_style.font.bold = True
    caption_style.paragraph_format.space_before = Pt(8)
    caption_style.paragraph_format.keep_with_next = True
    east_asian(caption_style, "游ゴシック")

    # --- numbering.xml: one abstractNum whose level 0 renders "第%1条", and one w:num pointing at it
    numbering = doc.part.numbering_part.element
    abstract_ids = [int(a.get(qn("w:abstractNumId"))) for a in numbering.findall(qn("w:abstractNum"))]
    num_ids = [int(x.get(qn("w:numId"))) for x in numbering.findall(qn("w:num"))]
    abstract_id = max(abstract_ids, default=-1) + 1
    num_id = max(num_ids, default=0) + 1

    def el(tag, **attrs):
        e = OxmlElement(tag)
        for k, v in attrs.items():
            e.set(qn(f"w:{k}"), str(v))
        return e

    abstract = el("w:abstractNum", abstractNumId=abstract_id)
    abstract.append(el("w:multiLevelType", val="singleLevel"))
    lvl = el("w:lvl", ilvl=0)
    lvl.append(el("w:start", val=1))
    lvl.append(el("w:numFmt", val="decimal"))
    lvl.append(el("w:suff", val="space"))
    lvl.append(el("w:lvlText", val="第%1条"))
    lvl.append(el("w:lvlJc", val="left"))
    ppr = el("w:pPr")
    ppr.append(el("w:ind", left=0, firstLine=0))
    lvl.append(ppr)
    rpr = el("w:rPr")
    rpr.append(el("w:b"))
    lvl.append(rpr)
    abstract.append(lvl)
    first_num = numbering.find(qn("w:num"))
    if first_num is not None:  # schema order: every abstractNum precedes every num
        first_num.addprevious(abstract)
    else:
        numbering.append(abstract)
    num = el("w:num", numId=num_id)
    num.append(el("w:abstractNumId", val=abstract_id))
    numbering.append(num)

    title = doc.add_paragraph(reg.title, style="Title")
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for line in reg.meta:
        p = doc.add_paragraph(line)
        p.alignment = WD_ALIGN_PARAGRAPH.RIGHT

    def add_blocks(blocks: list[Block], single: bool) -> None:
        for b in blocks:
            if b.kind == "table":
                table = doc.add_table(rows=len(b.rows), cols=len(b.rows[0]))
                table.style = "Table Grid"
                for r, row in enumerate(b.rows):
                    for c, cell in enumerate(row):
                        table.cell(r, c).text = cell
                        if r == 0:
                            for run in table.cell(r, c).paragraphs[0].runs:
                                run.bold = True
            elif b.kind == "kou":
                text = b.text if single else f"{str(b.num).translate(FW_DIGITS)}　{b.text}"
                p = doc.add_paragraph(text)
                if not single:
                    p.paragraph_format.left_indent = Mm(4)
                    p.paragraph_format.first_line_indent = Mm(-4)
            elif b.kind == "go":
                p = doc.add_paragraph(f"（{str(b.num).translate(FW_DIGITS)}）{b.text}")
                p.paragraph_format.left_indent = Mm(10)
                p.paragraph_format.first_line_indent = Mm(-6)
            else:
                p = doc.add_paragraph(b.text)
                p.paragraph_format.first_line_indent = Mm(4)

    for ch in reg.chapters:
        doc.add_paragraph(ch.title, style="Heading 1")
        for art in ch.articles:
            p = doc.add_paragraph(f"（{art.caption}）", style="条見出し")
            num_pr = p._p.get_or_add_pPr().get_or_add_numPr()
            num_pr.get_or_add_ilvl().val = 0
            num_pr.get_or_add_numId().val = num_id
            kou = [b for b in art.blocks if b.kind == "kou"]
            add_blocks(art.blocks, single=len(kou) <= 1)
        add_blocks(ch.blocks, single=True)

    cp = doc.core_properties
    cp.title, cp.author, cp.last_modified_by = reg.title, AUTHOR, AUTHOR
    cp.created = cp.modified = FIXED_TIME
    cp.revision = 1
    doc.save(out)


# ---------------------------------------------------------------- wiki HTML exports

WIKI_CSS = """
body { font-family: "Hiragino Sans", "Yu Gothic", Meiryo, sans-serif; margin: 0; color: #172b4d; }
#header { background: #0b5394; color: #fff; padding: 6px 16px; }
#header a { color: #fff; }
#sidebar { float: left; width: 220px; padding: 12px; font-size: 13px; background: #f4f5f7; }
#main { margin-left: 250px; padding: 16px 32px; max-width: 900px; }
.breadcrumbs { font-size: 12px; color: #6b778c; list-style: none; padding: 0; }
.breadcrumbs li { display: inline; }
.breadcrumbs li + li::before { content: " / "; }
.page-metadata { font-size: 12px; color: #6b778c; margin-bottom: 16px; }
table.confluenceTable { border-collapse: collapse; margin: 8px 0; }
table.confluenceTable th, table.confluenceTable td { border: 1px solid #c1c7d0; padding: 4px 10px; }
table.confluenceTable th { background: #f4f5f7; }
#footer { clear: both; font-size: 11px; color: #6b778c; padding: 16px; }
"""


def _wiki_page(reg: Regulation, page_id: int, extra_css: str, content: str, updated: str) -> str:
    tree = ["就業規則", "賃金規程", "旅費規程", "育児・介護休業規程", "慶弔見舞金規程", "情報セキュリティ規程", "備品・貸与PC管理規程"]
    current = ' class="current"'
    tree_html = "\n".join(
        f'        <li{current if t == reg.title else ""}><a href="/wiki/spaces/SOUMU/pages/{4100 + i}">{t}</a></li>'
        for i, t in enumerate(tree)
    )
    meta = html.escape(" ".join(reg.meta[1:]))
    return f"""<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<title>{html.escape(reg.title)} - 人事・総務 - AOBA Wiki</title>
<meta name="ajs-page-id" content="{page_id}">
<meta name="ajs-space-key" content="SOUMU">
<style>{WIKI_CSS}{extra_css}</style>
<script>window.AOBA_WIKI = {{"pageId": {page_id}, "spaceKey": "SOUMU", "user": "anonymous", "theme": "light"}};</script>
</head>
<body>
<div id="header">
  <a href="/wiki/">AOBA Wiki</a> ｜ <a href="/wiki/spaces">スペース</a> ｜ <a href="/wiki/people">ユーザー</a> ｜ <a href="/wiki/create">＋ 作成</a>
  <form class="search" action="/wiki/search"><input type="text" name="q" placeholder="検索"></form>
</div>
<div id="sidebar">
  <div class="space-name">人事・総務（SOUMU）</div>
  <nav class="page-tree">
    <h3>ページツリー</h3>
    <ul>
      <li><a href="/wiki/spaces/SOUMU/overview">スペースのホーム</a></li>
      <li><a href="/wiki/spaces/SOUMU/pages/4000">規程集</a>
        <ul>
{tree_html}
        </ul>
      </li>
      <li><a href="/wiki/spaces/SOUMU/pages/4200">各種申請の手順（AOBAフロー）</a></li>
      <li><a href="/wiki/spaces/SOUMU/pages/4300">総務からのお知らせ</a></li>
    </ul>
  </nav>
  <div class="space-tools"><a href="/wiki/spaces/SOUMU/settings">スペースツール</a></div>
</div>
<div id="main">
  <ol class="breadcrumbs">
    <li><a href="/wiki/">ダッシュボード</a></li>
    <li><a href="/wiki/spaces/SOUMU/overview">人事・総務</a></li>
    <li><a href="/wiki/spaces/SOUMU/pages/4000">規程集</a></li>
    <li>{html.escape(reg.title)}</li>
  </ol>
  <div id="main-content">
    <h1 id="title-text">{html.escape(reg.title)}</h1>
    <div class="page-metadata">作成者：総務課 管理者、最終更新日：{updated}（{html.escape(COMPANY)} {meta}）　<a href="/wiki/pages/viewpreviousversions.action?pageId={page_id}">履歴を表示</a>　<a href="/wiki/pages/exportpdf.action?pageId={page_id}">PDFにエクスポート</a></div>
    <div class="wiki-content">
{content}
    </div>
  </div>
  <div class="page-actions">
    <span class="like">いいね！ 12人</span>
    <div class="labels">ラベル：<a href="/wiki/label/規程">規程</a> <a href="/wiki/label/人事総務">人事総務</a></div>
    <div class="comments"><p>コメントはありません。</p><a href="#addcomment">コメントを追加</a></div>
  </div>
</div>
<div id="footer">
  <p>AOBA Wiki（社内専用）｜ 問い合わせ：情報システム課 ヘルプデスク 内線2250 ｜ このページの内容に関する問い合わせは総務課（内線2100）へ</p>
</div>
<script>document.querySelectorAll('a[href^="http"]').forEach(function (a) {{ a.setAttribute('rel', 'noopener'); }});</script>
</body>
</html>
"""


def _html_table(b: Block, indent: str) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in b.rows[0])
    body = "\n".join(
        f"{indent}  <tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in b.rows[1:]
    )
    return f'{indent}<table class="confluenceTable">\n{indent}  <tr>{head}</tr>\n{body}\n{indent}</table>'


def build_html_counters(reg: Regulation, out: Path) -> None:
    """Articles as <h3>（caption）</h3>; the 第N条 label exists only in the CSS counter."""
    css = """
#main-content .wiki-content { counter-reset: art; }
#main-content .wiki-content h3 { counter-increment: art; font-size: 15px; margin: 18px 0 4px; }
#main-content .wiki-content h3::before { content: "第" counter(art) "条"; margin-right: 0.3em; }
#main-content .wiki-content p.go { margin: 2px 0 2px 2em; }
"""
    parts = []
    for ch in reg.chapters:
        parts.append(f"      <h2>{html.escape(ch.title)}</h2>")
        for art in ch.articles:
            parts.append(f'      <h3 id="{html.escape(reg.title)}-（{html.escape(art.caption)}）">（{html.escape(art.caption)}）</h3>')
            kou = [b for b in art.blocks if b.kind == "kou"]
            for b in art.blocks:
                if b.kind == "table":
                    parts.append(_html_table(b, "      "))
                elif b.kind == "kou":
                    text = b.text if len(kou) <= 1 else f"{b.num}　{b.text}"
                    parts.append(f"      <p>{html.escape(text)}</p>")
                elif b.kind == "go":
                    parts.append(f'      <p class="go">({b.num}) {html.escape(b.text)}</p>')
                else:
                    parts.append(f"      <p>{html.escape(b.text)}</p>")
        for b in ch.blocks:
            parts.append(_html_table(b, "      ") if b.kind == "table" else f"      <p>{html.escape(b.text)}</p>")
    out.write_text(_wiki_page(reg, 4101, css, "\n".join(parts), "2026年4月1日"), encoding="utf-8")


def build_html_ol(reg: Regulation, out: Path) -> None:
    """Articles as <li> of one <ol start=N> per chapter; the wiki page states that the list number is the 条 number."""
    css = """
#main-content .wiki-content ol.articles > li { margin: 10px 0; }
#main-content .wiki-content ol.articles > li::marker { content: "第" counter(list-item) "条　"; font-weight: bold; }
#main-content .wiki-content ol.go { list-style: none; padding-left: 1.5em; }
"""
    n_articles = len(reg.articles)
    parts = [
        '      <div class="panel info"><p>※ このページでは、各条を章ごとの番号付きリストで表示しています。'
        f"リストの番号が条番号（第1条から第{n_articles}条までの通し番号）です。</p></div>"
    ]

    def go_list(items: list[Block], indent: str) -> list[str]:
        lines = [f'{indent}<ol class="go">']
        lines += [f"{indent}  <li>({g.num}) {html.escape(g.text)}</li>" for g in items]
        lines.append(f"{indent}</ol>")
        return lines

    for ch in reg.chapters:
        parts.append(f"      <h2>{html.escape(ch.title)}</h2>")
        if ch.articles:
            parts.append(f'      <ol class="articles" start="{ch.articles[0].num}">')
            for art in ch.articles:
                parts.append(f"        <li><strong>（{html.escape(art.caption)}）</strong>")
                kou = [b for b in art.blocks if b.kind == "kou"]
                if len(kou) >= 2:
                    parts.append("          <ol>")
                    i = 0
                    blocks = art.blocks
                    while i < len(blocks):
                        b = blocks[i]
                        if b.kind == "kou":
                            subs = []
                            j = i + 1
                            while j < len(blocks) and blocks[j].kind == "go":
                                subs.append(blocks[j])
                                j += 1
                            if subs:
                                parts.append(f"            <li>{html.escape(b.text)}")
                                parts += go_list(subs, "              ")
                                parts.append("            </li>")
                            else:
                                parts.append(f"            <li>{html.escape(b.text)}</li>")
                            i = j
                        else:
                            sys.exit(f"{reg.title} 第{art.num}条: unsupported block {b.kind} between 項")
                    parts.append("          </ol>")
                else:
                    gos = [b for b in art.blocks if b.kind == "go"]
                    for b in art.blocks:
                        if b.kind in ("para", "kou"):
                            parts.append(f"          <p>{html.escape(b.text)}</p>")
                        elif b.kind == "table":
                            parts.append(_html_table(b, "          "))
                    if gos:
                        parts += go_list(gos, "          ")
                parts.append("        </li>")
            parts.append("      </ol>")
        for b in ch.blocks:
            parts.append(f"      <p>{html.escape(b.text)}</p>")
    out.write_text(_wiki_page(reg, 4105, css, "\n".join(parts), "2026年4月1日"), encoding="utf-8")


# ---------------------------------------------------------------- PDF (reportlab, CID font)


def build_pdf(reg: Regulation, out: Path) -> None:
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER, TA_RIGHT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = "HeiseiKakuGo-W5"
    pdfmetrics.registerFont(UnicodeCIDFont(font))
    base = dict(fontName=font, wordWrap="CJK")
    s_title = ParagraphStyle("title", fontSize=18, leading=24, alignment=TA_CENTER, spaceAfter=6, **base)
    s_meta = ParagraphStyle("meta", fontSize=9, leading=12, alignment=TA_RIGHT, **base)
    s_chapter = ParagraphStyle("chapter", fontSize=13, leading=18, spaceBefore=12, spaceAfter=4, **base)
    s_article = ParagraphStyle("article", fontSize=11, leading=15, spaceBefore=8, spaceAfter=2, **base)
    s_body = ParagraphStyle("body", fontSize=10, leading=15, firstLineIndent=10, **base)
    s_kou = ParagraphStyle("kou", fontSize=10, leading=15, leftIndent=12, firstLineIndent=-12, **base)
    s_go = ParagraphStyle("go", fontSize=10, leading=15, leftIndent=34, firstLineIndent=-22, **base)
    s_cell = ParagraphStyle("cell", fontSize=9, leading=12, **base)

    def table(b: Block):
        data = [[Paragraph(html.escape(c), s_cell) for c in row] for row in b.rows]
        widths = [52 * mm] + [(160 - 52) / (len(b.rows[0]) - 1) * mm] * (len(b.rows[0]) - 1)
        t = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
        t.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
            ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.9, 0.9)),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ]))
        return t

    story = [Paragraph(html.escape(reg.title), s_title)]
    story += [Paragraph(html.escape(m), s_meta) for m in reg.meta]
    story.append(Spacer(1, 6 * mm))
    for ch in reg.chapters:
        story.append(Paragraph(html.escape(ch.title), s_chapter))
        for art in ch.articles:
            flow = [Paragraph(f"第{art.num}条（{html.escape(art.caption)}）", s_article)]
            kou = [b for b in art.blocks if b.kind == "kou"]
            for b in art.blocks:
                if b.kind == "table":
                    flow.append(Spacer(1, 2 * mm))
                    flow.append(table(b))
                    flow.append(Spacer(1, 2 * mm))
                elif b.kind == "kou":
                    text = b.text if len(kou) <= 1 else f"{b.num}　{b.text}"
                    flow.append(Paragraph(html.escape(text), s_body if len(kou) <= 1 else s_kou))
                elif b.kind == "go":
                    flow.append(Paragraph(f"（{b.num}）{html.escape(b.text)}", s_go))
                else:
                    flow.append(Paragraph(html.escape(b.text), s_body))
            story.append(KeepTogether(flow[:2]))
            story += flow[2:]
        story += [Paragraph(html.escape(b.text), s_body) for b in ch.blocks]

    def page_number(canvas, doc_):
        canvas.saveState()
        canvas.setFont(font, 9)
        canvas.drawCentredString(A4[0] / 2, 12 * mm, f"- {doc_.page} -")
        canvas.drawRightString(A4[0] - 20 * mm, A4[1] - 12 * mm, f"{COMPANY}　{reg.title}")
        canvas.restoreState()

    doc = SimpleDocTemplate(
        str(out), pagesize=A4, leftMargin=25 * mm, rightMargin=25 * mm, topMargin=22 * mm, bottomMargin=22 * mm,
        title=reg.title, author=AUTHOR, subject=f"{COMPANY} {reg.title}", creator="reportlab", invariant=1,
    )
    doc.build(story, onFirstPage=page_number, onLaterPages=page_number)


# ---------------------------------------------------------------- Markdown outputs


def _md_blocks(blocks: list[Block]) -> list[str]:
    lines: list[str] = []
    kou = [b for b in blocks if b.kind == "kou"]
    for b in blocks:
        if b.kind == "table":
            lines.append("")
            lines.append("| " + " | ".join(b.rows[0]) + " |")
            lines.append("|" + "---|" * len(b.rows[0]))
            lines += ["| " + " | ".join(r) + " |" for r in b.rows[1:]]
            lines.append("")
        elif b.kind == "kou":
            lines.append(b.text if len(kou) <= 1 else f"{b.num}. {b.text}")
        elif b.kind == "go":
            lines.append(f"{'    ' if kou else ''}- （{b.num}）{b.text}")
        else:
            lines.append(b.text)
            if any(x.kind == "go" for x in blocks):
                lines.append("")
    # Markdown needs blank lines between plain paragraphs but not inside a list
    out: list[str] = []
    for ln in lines:
        if out and ln and out[-1] and not ln.startswith(("    -", "- ", "|")) and not re.match(r"\d+\. ", ln) and not out[-1].startswith("|"):
            out.append("")
        out.append(ln)
    return out


def build_md_captions(reg: Regulation, out: Path) -> None:
    """育児・介護休業規程: no 第N条 anywhere; ### caption headings in 章1-3, bold caption lines in 章4-6."""
    lines = [f"# {reg.title}", "", "  \n".join(reg.meta), ""]
    for ci, ch in enumerate(reg.chapters):
        lines += [f"## {ch.title}", ""]
        for art in ch.articles:
            if ci < 3:
                lines += [f"### {art.caption}", ""]
            else:
                lines += [f"**（{art.caption}）**", ""]
            lines += _md_blocks(art.blocks)
            lines.append("")
        for b in ch.blocks:
            lines += [b.text, ""]
    out.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")


SSG_STYLE = {  # caption -> how the site template renders the heading
    "結婚祝金": "hugo", "出産祝金": "hugo", "入学祝金": "hugo", "傷病見舞金": "hugo",
    "弔慰金": "jekyll", "供花・弔電": "jekyll",
}


def build_md_ssg(reg: Regulation, out: Path) -> None:
    """慶弔見舞金規程: YAML front matter and template-tag headings, as exported from the intranet's static site."""
    lines = [
        "---",
        f"title: {reg.title}",
        "category: other",
        "date: 2026-04-01",
        "weight: 40",
        "draft: false",
        "tags: [福利厚生, 慶弔]",
        "---",
        "",
        f"{COMPANY}　{' / '.join(reg.meta[1:])}",
        "",
    ]
    for ch in reg.chapters:
        if ch.title:
            lines += [f"## {ch.title}", ""]
        for art in ch.articles:
            style = SSG_STYLE.get(art.caption)
            if style == "hugo":
                lines.append(f'{{{{< heading title="{art.caption}" >}}}}')
            elif style == "jekyll":
                lines.append(f'{{% include article.html title="{art.caption}" %}}')
            else:
                lines.append(f"## {art.caption}")
            lines.append("")
            lines += _md_blocks(art.blocks)
            lines.append("")
        for b in ch.blocks:
            lines += [b.text, ""]
    out.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")


# ---------------------------------------------------------------- plain text


def build_txt(reg: Regulation, out: Path) -> None:
    lines = [reg.title, ""]
    lines += [f"{'　' * 20}{m}" for m in reg.meta]
    lines.append("")
    for ch in reg.chapters:
        lines += ["", ch.title.replace(" ", "　"), ""]
        for art in ch.articles:
            lines.append(f"第{art.num}条（{art.caption}）")
            kou = [b for b in art.blocks if b.kind == "kou"]
            for b in art.blocks:
                if b.kind == "kou":
                    lines.append(f"　{b.text}" if len(kou) <= 1 else f"{str(b.num).translate(FW_DIGITS)}　{b.text}")
                elif b.kind == "go":
                    lines.append(f"　（{str(b.num).translate(FW_DIGITS)}）{b.text}")
                elif b.kind == "table":
                    lines += ["　" + "｜".join(r) for r in b.rows]
                else:
                    lines.append(f"　{b.text}")
            lines.append("")
        for b in ch.blocks:
            lines.append(f"　{b.text}")
    out.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")


# ---------------------------------------------------------------- Excel FAQ


def build_xlsx(src: Path, out: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    with src.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    if rows[0] != ["質問", "回答", "カテゴリ"]:
        sys.exit(f"{src.name}: header must be 質問,回答,カテゴリ")
    bad = [r for r in rows[1:] if len(r) != 3 or r[2] not in ("勤怠", "経費", "備品", "その他")]
    if bad:
        sys.exit(f"{src.name}: malformed rows: {bad[:3]}")
    wb = Workbook()
    ws = wb.active
    ws.title = "よくある質問"
    for row in rows:
        ws.append(row)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.column_dimensions["A"].width = 42
    ws.column_dimensions["B"].width = 80
    ws.column_dimensions["C"].width = 10
    ws.freeze_panes = "A2"
    wb.properties.creator = AUTHOR
    wb.properties.title = "よくある質問"
    wb.properties.created = wb.properties.modified = FIXED_TIME
    wb.save(out)


# ---------------------------------------------------------------- main / check

BUILDS = [
    ("就業規則.md", "就業規則.docx", build_docx),
    ("賃金規程.md", "賃金規程.html", build_html_counters),
    ("情報セキュリティ規程.md", "情報セキュリティ規程.html", build_html_ol),
    ("旅費規程.md", "旅費規程.pdf", build_pdf),
    ("育児・介護休業規程.md", "育児・介護休業規程.md", build_md_captions),
    ("慶弔見舞金規程.md", "慶弔見舞金規程.md", build_md_ssg),
    ("備品・貸与PC管理規程.md", "備品・貸与PC管理規程.txt", build_txt),
]


def check() -> None:
    """Read the outputs back the way a loader would and print what they contain."""
    W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    docx_path = DOCS / "就業規則.docx"
    with zipfile.ZipFile(docx_path) as z:
        numbering = z.read("word/numbering.xml").decode("utf-8")
        document = z.read("word/document.xml").decode("utf-8")
    assert 'w:lvlText w:val="第%1条"' in numbering, "numbering.xml lacks lvlText 第%1条"
    from docx import Document

    d = Document(docx_path)
    numbered = [p.text for p in d.paragraphs if p._p.pPr is not None and p._p.pPr.numPr is not None]
    assert all("第" not in t and "条" not in t[:3] for t in numbered), "caption text must not contain 第N条"
    print(f"就業規則.docx: numbering.xml has lvlText 第%1条; {len(numbered)} paragraphs carry w:numPr "
          f"({document.count('<w:numPr>')} in document.xml); first: {numbered[:3]}")

    from pypdf import PdfReader

    reader = PdfReader(DOCS / "旅費規程.pdf")
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    heads = re.findall(r"第\d+条（[^）]+）", text)
    print(f"旅費規程.pdf: {len(reader.pages)} pages, title={reader.metadata.title!r}, pypdf sees {len(heads)} 第N条 headings "
          f"(sample: {text[:60]!r})")

    for name in ("賃金規程.html", "情報セキュリティ規程.html"):
        page = (DOCS / name).read_text(encoding="utf-8")
        body = page.split('<div class="wiki-content">', 1)[1]
        print(f"{name}: <h3> in wiki-content={body.count('<h3')}, <li><strong> articles={body.count('<li><strong>')}, "
              f"tables={page.count('<table')}, visible 第N条 in body={len(re.findall(r'第[0-9]+条（', body))}")

    for name in ("育児・介護休業規程.md", "慶弔見舞金規程.md"):
        page = (DOCS / name).read_text(encoding="utf-8")
        refs = len(re.findall(r"第[0-9]+条", page))
        h3 = len(re.findall(r"^### ", page, re.M))
        bold = len(re.findall(r"^\*\*（", page, re.M))
        tags = len(re.findall(r"^(?:\{\{<|\{%)", page, re.M))
        print(f"{name}: 第N条 occurrences={refs} (references to other rules only), ### headings={h3}, "
              f"bold captions={bold}, template tags={tags}")

    txt = (DOCS / "備品・貸与PC管理規程.txt").read_text(encoding="utf-8")
    print(f"備品・貸与PC管理規程.txt: {len(re.findall(r'^第[0-9]+条（', txt, re.M))} article lines")

    from openpyxl import load_workbook

    ws = load_workbook(DOCS / "よくある質問.xlsx").active
    rows = list(ws.iter_rows(values_only=True))
    print(f"よくある質問.xlsx: header={rows[0]}, {len(rows) - 1} rows")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="read the outputs back and print a summary")
    args = ap.parse_args()
    DOCS.mkdir(exist_ok=True)
    for src, dst, fn in BUILDS:
        reg = parse(SOURCES / src)
        fn(reg, DOCS / dst)
        print(f"{dst}: {len(reg.articles)} articles")
    build_xlsx(SOURCES / "よくある質問.csv", DOCS / "よくある質問.xlsx")
    print("よくある質問.xlsx")
    shutil.copyfile(SOURCES / "office-guide-en.md", DOCS / "office-guide-en.md")
    print("office-guide-en.md")
    if args.check:
        check()


if __name__ == "__main__":
    main()
