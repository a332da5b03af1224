"""Loaders (ingest/loaders.py): each format becomes a title, a category hint and blocks (headings with levels,
body text with its PDF page) or FAQ rows — read from the real sample manuals and from small files made here."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from app.errors import IngestError
from ingest.loaders import load, load_markdown_text

MANUALS = Path(__file__).resolve().parents[1] / "examples" / "manuals"


def _headings(doc, level: int | None = None) -> list[str]:
    return [b.text for b in doc.blocks if b.level is not None and (level is None or b.level == level)]


def _body(doc) -> str:
    return "\n".join(b.text for b in doc.blocks if b.level is None)


# ---------------------------------------------------------------------------------------------------------- PDF


def test_pdf_keeps_the_page_of_every_block():
    from pypdf import PdfReader

    path = MANUALS / "勤怠管理規程.pdf"
    doc = load(path)
    pages = [unicodedata.normalize("NFKC", p.extract_text() or "") for p in PdfReader(str(path)).pages]

    assert doc.title == "勤怠管理規程"
    assert {b.page for b in doc.blocks} == set(range(1, len(pages) + 1)), (
        "every page contributes blocks, numbered from 1"
    )
    articles = [b for b in doc.blocks if b.level == 4]
    assert len(articles) == 20
    for block in articles:  # each article heading carries the page it is printed on
        assert block.text in pages[block.page - 1], f"{block.text} is not on page {block.page}"
    eleven = next(b for b in articles if b.text.startswith("第11条"))
    assert eleven.page > 1
    assert _headings(doc, 2)[0] == "第1章 総則"


def test_pdf_body_text_is_japanese_and_normalized():
    doc = load(MANUALS / "勤怠管理規程.pdf")
    flat = "".join(_body(doc).split())
    assert "6か月間継続して勤務し" in flat
    assert "（" not in "".join(_headings(doc)), "PDF text is NFKC-normalized (full-width brackets become ASCII)"


# ----------------------------------------------------------------------------------------------------- Markdown


def test_markdown_front_matter_gives_title_and_category():
    doc = load(MANUALS / "慶弔見舞金規程.md")
    assert doc.title == "慶弔見舞金規程"
    assert doc.category == "other"
    assert "第2章 慶事" in [h.replace("\u3000", " ") for h in _headings(doc, 2)]
    assert "第3条（結婚祝金）" in _headings(doc, 3)
    assert "30,000円" in _body(doc)
    assert "category:" not in _body(doc), "front matter is not body text"


def test_markdown_headings_links_code_and_liquid(tmp_path):
    text = (
        "---\ntitle: 出張マニュアル\ncategory: 経費\nurl: https://portal.example/trip\n---\n"
        "# 無視される見出し1\n\n"
        "{% include toc.html %}\n"
        "## 申請\n\n詳しくは[ポータル](https://portal.example/x)を見てください。<b>必ず</b>事前申請。\n\n"
        "```\n# これはコードでありは見出しではない\n```\n"
        "### 日当 ###\n\n日帰りは1,000円&amp;宿泊は2,000円。\n"
    )
    path = tmp_path / "trip.md"
    path.write_text(text, encoding="utf-8")
    doc = load(path)
    assert doc.title == "出張マニュアル"
    assert doc.category == "経費"
    assert doc.url == "https://portal.example/trip"
    assert [(b.level, b.text) for b in doc.blocks if b.level] == [(1, "無視される見出し1"), (2, "申請"), (3, "日当")]
    body = _body(doc)
    assert "詳しくはポータルを見てください。必ず事前申請。" in body
    assert "https://portal.example/x" not in body and "<b>" not in body
    assert "# これはコードでありは見出しではない" in body, "a # line inside a code fence stays body text"
    assert "{%" not in body
    assert "1,000円&宿泊は2,000円。" in body


def test_markdown_front_matter_title_loses_its_html():
    doc = load_markdown_text("---\ntitle: Get set up <em>before</em> onboarding\n---\nBody text.\n", "fallback")
    assert doc.title == "Get set up before onboarding"


def test_markdown_without_front_matter_takes_the_first_h1_and_survives_bad_yaml():
    doc = load_markdown_text("---\n: [unclosed\n---\n# 就業規則\n\n本文です。\n", "fallback")
    assert doc.title == "就業規則"
    assert doc.category is None
    assert load_markdown_text("本文だけ。\n", "ファイル名").title == "ファイル名"


def test_markdown_redirect_page_becomes_a_pointer():
    doc = load_markdown_text("---\ntitle: 旧ページ\nredirect_to: https://example.com/new\n---\n", "old")
    assert [b.text for b in doc.blocks] == ["旧ページ: https://example.com/new"]
    assert doc.url == "https://example.com/new"


# ------------------------------------------------------------------------------------------------- plain text

_RULES = "総務規程\n\n第1章　総則\n\n第1条（目的）\nこの規程は、総務の手続を定める。\n\n第2条（申請）\n１．申請は書面で行う。\n２．急ぎの場合は内線で連絡する。\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_text_in_utf8_bom_and_cp932_reads_the_same(tmp_path, encoding, newline):
    path = tmp_path / "rules.txt"
    path.write_bytes(_RULES.replace("\n", newline).encode(encoding))
    doc = load(path)
    assert doc.title == "総務規程", "the first short line is the title (and a BOM does not stick to it)"
    assert [(b.level, b.text) for b in doc.blocks if b.level] == [
        (2, "第1章　総則"),
        (4, "第1条（目的）"),
        (4, "第2条（申請）"),
    ]
    assert "１．申請は書面で行う。\n２．急ぎの場合は内線で連絡する。" in _body(doc)
    assert "\r" not in _body(doc) and "\ufeff" not in _body(doc)


def test_sample_cp932_text_manual():
    raw = (MANUALS / "備品管理規程.txt").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # the sample really is Shift_JIS
    doc = load(MANUALS / "備品管理規程.txt")
    assert doc.title == "備品管理規程"
    assert "第4条（消耗品の利用）" in _headings(doc, 4)
    assert "本社3階の総務部前に設置した備品棚" in _body(doc)


# ------------------------------------------------------------------------------------------------------- DOCX


def test_docx_heading_styles_become_levels():
    doc = load(MANUALS / "経費精算規程.docx")
    assert doc.title == "経費精算規程"
    chapters = _headings(doc, 2)
    articles = _headings(doc, 3)
    assert chapters[0] == "第1章\u3000総則"
    assert len(articles) == 20 and articles[14] == "第15条（日当）"
    assert "日帰り出張" in _body(doc)


def test_docx_made_here_with_title_plain_article_lines_and_a_table(tmp_path):
    import docx

    d = docx.Document()
    d.core_properties.title = ""
    d.add_paragraph("社内規程集", style="Title")
    d.add_paragraph("第1条（目的）")  # plain paragraph that reads as an article heading
    d.add_paragraph("この規程は社内の手続を定める。")
    d.add_heading("手当", level=1)
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "区分", "金額"
    table.cell(1, 0).text, table.cell(1, 1).text = "日帰り", "1,000円"
    path = tmp_path / "rules.docx"
    d.save(path)

    doc = load(path)
    assert doc.title == "社内規程集"
    assert [(b.level, b.text) for b in doc.blocks if b.level] == [(1, "社内規程集"), (4, "第1条（目的）"), (2, "手当")]
    assert "区分 | 金額\n日帰り | 1,000円" in _body(doc)


# ------------------------------------------------------------------------------------------------------- XLSX


def test_xlsx_faq_sheet_becomes_one_entry_per_row():
    doc = load(MANUALS / "よくある質問.xlsx")
    assert doc.title == "よくある質問"
    assert len(doc.faq) == 25
    assert not doc.blocks
    first = doc.faq[0]
    assert first.question == "入社してすぐ有給は使えますか？"
    assert "勤怠管理規程第11条" in first.answer
    assert first.category == "勤怠"
    assert {r.category for r in doc.faq} == {"勤怠", "経費", "備品", "その他"}


def test_xlsx_english_headers_blank_rows_and_a_plain_sheet(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "FAQ"
    ws.append(["No", "Question", "Answer", "Category"])
    ws.append([1, "Where is the shelf?", "On the 3rd floor.", "supplies"])
    ws.append([None, None, None, None])
    ws.append([2, "Question without answer", None, "other"])
    ws.append([3, "Who approves?", "Your manager.", None])
    other = wb.create_sheet("内線表")
    other.append(["部署", "内線"])
    other.append(["総務部", 1200])
    path = tmp_path / "faq.xlsx"
    wb.save(path)

    doc = load(path)
    assert [(r.question, r.answer, r.category) for r in doc.faq] == [
        ("Where is the shelf?", "On the 3rd floor.", "supplies"),
        ("Who approves?", "Your manager.", None),
    ]
    assert [(b.level, b.text) for b in doc.blocks] == [(2, "内線表"), (None, "部署 | 内線\n総務部 | 1200")]


# ------------------------------------------------------------------------------------------------------- HTML


def test_html_keeps_headings_lists_and_drops_scripts_and_navigation(tmp_path):
    path = tmp_path / "guide.html"
    path.write_text(
        "<html><head><title>Office guide</title><style>p{color:red}</style></head><body>"
        "<nav><a href='/'>Home</a> menu link</nav><script>var secret = 1;</script>"
        "<h1>Office guide</h1><h2>Supplies</h2><p>Take pens from the shelf.</p>"
        "<ul><li>Notebooks</li><li>Sticky notes</li></ul>"
        "<div><p>第4条（消耗品の利用）</p></div><footer>copyright</footer></body></html>",
        encoding="utf-8",
    )
    doc = load(path)
    assert doc.title == "Office guide"
    assert [(b.level, b.text) for b in doc.blocks] == [
        (1, "Office guide"),
        (2, "Supplies"),
        (None, "Take pens from the shelf."),
        (None, "- Notebooks"),
        (None, "- Sticky notes"),
        (4, "第4条（消耗品の利用）"),
    ]
    text = " ".join(b.text for b in doc.blocks)
    assert "secret" not in text and "menu link" not in text and "copyright" not in text and "color" not in text


# ------------------------------------------------------------------------------------------------ unsupported


def test_unsupported_extension_names_the_supported_ones(tmp_path):
    path = tmp_path / "slides.pptx"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(IngestError) as info:
        load(path)
    assert "'.pptx'" in info.value.detail_en and ".docx" in info.value.detail_en
    assert "対応していないファイル形式" in info.value.detail_ja
