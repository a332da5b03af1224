"""Build docs/ of the fictional Harbor & Pine Outfitters from sources/ (run from anywhere with the project venv).

sources/*.src use a tiny Markdown-like notation: `#`/`##`/`###` headings, `|`-separated table rows (first row is
the header) and paragraphs. They are rendered as PDF (reportlab), DOCX (python-docx, Word heading styles), an
intranet HTML export and plain text; the Markdown files are copied; faq.csv becomes an XLSX sheet.
"""

from __future__ import annotations

import html
import shutil
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE / "sources"
DOCS = HERE / "docs"
COMPANY = "Harbor & Pine Outfitters, Inc."


def parse(path: Path) -> list[tuple[str, object]]:
    """[("h1".."h3", text) | ("p", text) | ("table", rows)]"""
    blocks: list[tuple[str, object]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            blocks.append((f"h{level}", line.lstrip("#").strip()))
        elif line.startswith("|"):
            row = [c.strip() for c in line.strip().strip("|").split("|")]
            if blocks and blocks[-1][0] == "table":
                blocks[-1][1].append(row)  # type: ignore[union-attr]
            else:
                blocks.append(("table", [row]))
        else:
            blocks.append(("p", line.strip()))
    return blocks


def build_pdf(blocks, out: Path) -> None:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import LETTER
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import inch
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    ss = getSampleStyleSheet()
    styles = {"h1": ss["Heading1"], "h2": ss["Heading2"], "h3": ss["Heading3"], "p": ss["BodyText"]}
    title = blocks[0][1]
    story = [Paragraph(html.escape(title), ss["Title"])]
    for kind, value in blocks[1:]:
        if kind == "table":
            t = Table(value, hAlign="LEFT")
            t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                                   ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dfe8df")),
                                   ("FONTSIZE", (0, 0), (-1, -1), 9)]))
            story += [t, Spacer(1, 8)]
        else:
            story.append(Paragraph(html.escape(value), styles[kind]))

    def furniture(canvas, doc_):
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawString(inch, LETTER[1] - 0.5 * inch, f"{COMPANY} | Employee Handbook")
        canvas.drawRightString(LETTER[0] - inch, 0.5 * inch, f"Page {doc_.page}")
        canvas.drawString(inch, 0.5 * inch, "Internal use only")
        canvas.restoreState()

    doc = SimpleDocTemplate(str(out), pagesize=LETTER, title=title, author=COMPANY, invariant=1)
    doc.build(story, onFirstPage=furniture, onLaterPages=furniture)


def build_docx(blocks, out: Path) -> None:
    from docx import Document
    from docx.shared import Pt

    d = Document()
    d.core_properties.title = blocks[0][1]
    d.core_properties.author = COMPANY
    d.add_heading(blocks[0][1], level=0)
    section = d.sections[0]
    section.header.paragraphs[0].text = f"{COMPANY} — Finance Policy FIN-07"
    for kind, value in blocks[1:]:
        if kind == "table":
            t = d.add_table(rows=len(value), cols=len(value[0]))
            t.style = "Table Grid"
            for i, row in enumerate(value):
                for j, cell in enumerate(row):
                    t.cell(i, j).text = cell
                    if i == 0:
                        t.cell(i, j).paragraphs[0].runs[0].bold = True
        elif kind == "p":
            p = d.add_paragraph(value)
            p.paragraph_format.space_after = Pt(6)
        else:
            d.add_heading(value, level=int(kind[1]) - 1 if kind != "h1" else 1)
    d.save(str(out))


def build_html(blocks, out: Path) -> None:
    title = blocks[0][1]
    body = []
    for kind, value in blocks[1:]:
        if kind == "table":
            rows = ["<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in value[0]) + "</tr>"]
            rows += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in value[1:]]
            body.append("<table class=\"wiki-table\">\n" + "\n".join(rows) + "\n</table>")
        elif kind == "p":
            body.append(f"<p>{html.escape(value)}</p>")
        else:
            slug = value.lower().replace(" ", "-")
            body.append(f"<h2 id=\"{slug}\">{html.escape(value)}</h2>")
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)} - Trailhead Intranet</title>
<link rel="stylesheet" href="/static/trailhead.css">
<script src="/static/analytics.js"></script>
</head>
<body class="page-template-default">
<header class="site-header">
  <a class="logo" href="/">Trailhead — Harbor &amp; Pine Intranet</a>
  <form class="search" action="/search"><input name="q" placeholder="Search Trailhead"><button>Search</button></form>
</header>
<nav class="global-nav">
  <ul><li><a href="/news">News</a></li><li><a href="/people">People &amp; Culture</a></li><li><a href="/stores">Stores</a></li>
  <li><a href="/it">IT Help</a></li><li><a href="/policies">Policies</a></li></ul>
</nav>
<nav class="breadcrumbs"><a href="/">Home</a> › <a href="/stores">Stores</a> › {html.escape(title)}</nav>
<main id="content">
<article class="policy">
<h1>{html.escape(title)}</h1>
<div class="page-meta">Page owner: Store Operations · Last edited October 3, 2026 · 4 min read</div>
{chr(10).join(body)}
</article>
</main>
<aside class="related">
  <h3>Related pages</h3>
  <ul><li><a href="/policies/handbook">Employee Handbook</a></li><li><a href="/stores/shiftnest">ShiftNest help</a></li></ul>
</aside>
<footer class="site-footer">© 2026 Harbor &amp; Pine Outfitters, Inc. · Was this page helpful? <button>Yes</button> <button>No</button></footer>
</body>
</html>
"""
    out.write_text(page, encoding="utf-8")


def build_txt(blocks, out: Path) -> None:
    lines = [blocks[0][1], "=" * len(blocks[0][1]), ""]
    for kind, value in blocks[1:]:
        if kind == "p":
            lines += textwrap.wrap(value, 96) + [""]
        elif kind == "table":
            lines += ["  ".join(r) for r in value] + [""]
        else:
            lines += [value, ""]
    out.write_text("\n".join(lines), encoding="utf-8")


def build_xlsx(src: Path, out: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = "FAQ"
    for n, line in enumerate(src.read_text(encoding="utf-8").splitlines()):
        if line.strip():
            ws.append(line.split("|"))
            if n == 0:
                for c in ws[1]:
                    c.font = Font(bold=True)
    ws.column_dimensions["A"].width = 50
    ws.column_dimensions["B"].width = 90
    ws.column_dimensions["C"].width = 14
    for row in ws.iter_rows(min_row=2):
        for c in row:
            c.alignment = Alignment(wrap_text=True, vertical="top")
    wb.save(str(out))


def main() -> None:
    if DOCS.exists():
        shutil.rmtree(DOCS)
    DOCS.mkdir()
    build_pdf(parse(SRC / "employee-handbook.src"), DOCS / "Employee Handbook.pdf")
    build_docx(parse(SRC / "travel-and-expense-policy.src"), DOCS / "Travel and Expense Policy.docx")
    build_html(parse(SRC / "store-associate-guide.src"), DOCS / "store-associate-guide.html")
    build_txt(parse(SRC / "it-acceptable-use-policy.src"), DOCS / "IT-Acceptable-Use-Policy.txt")
    for md in ("benefits-summary.md", "warehouse-safety-rules.md", "equipment-and-uniform-policy.md"):
        shutil.copy(SRC / md, DOCS / md)
    build_xlsx(SRC / "faq.csv", DOCS / "Harbor-Pine-FAQ.xlsx")
    for p in sorted(DOCS.iterdir()):
        print(p.name, p.stat().st_size)


if __name__ == "__main__":
    main()
