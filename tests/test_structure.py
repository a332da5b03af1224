"""Structure from any format: article boundaries and captions when the numbers are generated (Word list numbering,
CSS counters, <ol>), Markdown captions hidden in template tags or bold lines, and tables kept as rows."""

from __future__ import annotations

from pathlib import Path

import docx
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

from ingest.chunker import chunk_document
from ingest.loaders import load, load_markdown_text
from ingest.structure import caption_of, format_number, kanji_number, plain_blocks


def _sections(doc) -> list[str]:
    return [d.section for d in chunk_document(doc)]


def _numbered_docx(path: Path, *, lvl_text: str = "第%1条", fmt: str = "decimal") -> Path:
    """A real .docx whose article captions are Word list items: 「第N条」 exists only in numbering.xml."""
    document = docx.Document()
    document.core_properties.title = "就業規則"
    numbering = document.part.numbering_part.element
    abstract = OxmlElement("w:abstractNum")
    abstract.set(qn("w:abstractNumId"), "7")
    lvl = OxmlElement("w:lvl")
    lvl.set(qn("w:ilvl"), "0")
    for tag, val in (("w:start", "1"), ("w:numFmt", fmt), ("w:lvlText", lvl_text)):
        el = OxmlElement(tag)
        el.set(qn("w:val"), val)
        lvl.append(el)
    abstract.append(lvl)
    numbering.append(abstract)
    num = OxmlElement("w:num")
    num.set(qn("w:numId"), "3")
    ref = OxmlElement("w:abstractNumId")
    ref.set(qn("w:val"), "7")
    num.append(ref)
    numbering.append(num)

    def article(caption: str, *body: str) -> None:
        p = document.add_paragraph(caption)
        p_pr = p._p.get_or_add_pPr()
        num_pr = OxmlElement("w:numPr")
        for tag, val in (("w:ilvl", "0"), ("w:numId", "3")):
            el = OxmlElement(tag)
            el.set(qn("w:val"), val)
            num_pr.append(el)
        p_pr.append(num_pr)
        for b in body:
            document.add_paragraph(b)

    document.add_heading("第1章 総則", level=1)
    article("（目的）", "この規則は、従業員の就業に関する事項を定める。")
    article("（適用範囲）", "この規則は、正社員に適用する。")
    document.add_heading("第2章 休暇", level=1)
    article("（年次有給休暇）", "1. 入社後6か月継続勤務した者に10日を付与する。", "2. 取得は3日前までに申請する。")
    table = document.add_table(rows=2, cols=3)
    for r, cells in enumerate((("勤続年数", "0.5年", "1.5年"), ("付与日数", "10日", "11日"))):
        for c, text in enumerate(cells):
            table.cell(r, c).text = text
    article("（特別休暇）", "献血に参加する日は特別休暇1日を与える。")
    document.save(path)
    return path


def test_word_auto_numbered_articles_name_the_article(tmp_path):
    doc = load(_numbered_docx(tmp_path / "就業規則.docx"))
    sections = _sections(doc)
    assert "就業規則 > 第1章 総則 > 第1条（目的）" in sections
    assert "就業規則 > 第2章 休暇 > 第3条（年次有給休暇）" in sections
    assert "就業規則 > 第2章 休暇 > 第4条（特別休暇）" in sections
    leave = next(d for d in chunk_document(doc) if d.section.endswith("第3条（年次有給休暇）"))
    # the table stays in place (inside its article) and keeps its rows
    assert "勤続年数 | 0.5年 | 1.5年" in leave.text and "付与日数 | 10日 | 11日" in leave.text


def test_word_numbering_formats(tmp_path):
    doc = load(_numbered_docx(tmp_path / "k.docx", lvl_text="第%1条", fmt="japaneseCounting"))
    assert any(s.endswith("第四条（特別休暇）") for s in _sections(doc))
    assert kanji_number(23) == "二十三" and kanji_number(10) == "十" and format_number(3, "decimalFullWidth") == "３"


def test_html_ordered_list_of_articles_and_tables(tmp_path):
    page = tmp_path / "賃金規程.html"
    page.write_text(
        """<html><head><title>賃金規程 - 社内Wiki</title></head><body>
        <nav>ホーム &gt; 規程集</nav>
        <h1>賃金規程</h1><h2>第1章 総則</h2>
        <ol>
          <li><strong>（目的）</strong><p>この規程は賃金に関する事項を定める。</p></li>
          <li><strong>（支払日）</strong><p>賃金は毎月25日に支払う。</p>
              <ol><li>支払日が休日のときは前日に支払う。</li></ol></li>
          <li><strong>（通勤手当）</strong><p>通勤手当は次の表による。</p>
            <table><tr><th>距離</th><th>月額</th></tr><tr><td>10km未満</td><td>5,000円</td></tr></table></li>
        </ol></body></html>""",
        encoding="utf-8",
    )
    doc = load(page)
    sections = _sections(doc)
    assert "賃金規程 > 第1章 総則 > 第2条（支払日）" in sections
    pay = next(d for d in chunk_document(doc) if d.section.endswith("第2条（支払日）"))
    assert "25日" in pay.text and "前日" in pay.text
    commute = next(d for d in chunk_document(doc) if d.section.endswith("第3条（通勤手当）"))
    assert "10km未満 | 5,000円" in commute.text
    assert "ホーム" not in " ".join(d.text for d in chunk_document(doc))


def test_html_css_counter_headings(tmp_path):
    page = tmp_path / "情報セキュリティ規程.html"
    page.write_text(
        """<html><head><title>情報セキュリティ規程</title><style>
        body { counter-reset: art; }
        h3 { counter-increment: art; }
        h3::before { content: "第" counter(art) "条"; }
        </style></head><body>
        <h2>第1章 総則</h2><h3>（目的）</h3><p>情報資産を守る。</p>
        <h3>パスワード</h3><p>パスワードは12文字以上とする。</p>
        <h2>第2章 端末</h2><h3>（紛失時の報告）</h3><p>貸与PCを紛失したときは直ちに情報システム部へ報告する。</p>
        </body></html>""",
        encoding="utf-8",
    )
    sections = _sections(load(page))
    assert "情報セキュリティ規程 > 第1章 総則 > 第2条（パスワード）" in sections
    assert "情報セキュリティ規程 > 第2章 端末 > 第3条（紛失時の報告）" in sections


def test_markdown_template_tag_and_bold_captions():
    text = """---
title: 慶弔見舞金規程
category: benefits
---
# 慶弔見舞金規程

## 第1章 慶事

{{< heading title="結婚祝金" >}}

従業員が結婚したときは30,000円を支給する。

{% include article.html title="出産祝金" %}

子1人につき20,000円を支給する。

## 第2章 休暇

**（年次有給休暇）**

入社後6か月で10日付与する。

| 区分 | 金額 |
|---|---|
| 本人 | 50,000円 |
"""
    doc = load_markdown_text(text, "x")
    sections = _sections(doc)
    assert "慶弔見舞金規程 > 第1章 慶事 > 結婚祝金" in sections
    assert "慶弔見舞金規程 > 第1章 慶事 > 出産祝金" in sections
    leave = next(d for d in chunk_document(doc) if d.section.endswith("（年次有給休暇）"))
    assert "本人 | 50,000円" in leave.text and "---" not in leave.text
    assert not any("{%" in d.text or "{{" in d.text for d in chunk_document(doc))


def test_markdown_front_matter_with_aliases_is_not_expanded():
    bomb = "---\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b]\ntitle: t\n---\n# 見出し\n本文\n"
    doc = load_markdown_text(bomb, "fallback")
    assert doc.title in ("見出し", "fallback")


def test_plain_text_caption_line_and_article_body_on_heading_line():
    text = "（目的）\n第1条　この規程は、備品の管理について定めるものであり、従業員はこの規程に従って備品を大切に扱わなければならない。\n（貸与PC）\n第2条　会社は業務用PCを貸与する。"
    blocks = plain_blocks(text)
    headings = [b.text for b in blocks if b.level]
    assert headings == ["第1条（目的）", "第2条（貸与PC）"]
    assert caption_of("第12条（年次有給休暇）") == "年次有給休暇"
    assert caption_of("結婚祝金") == "結婚祝金"


def test_pdf_page_furniture_is_not_quoted():
    """Running headers/footers and page numbers (pypdf glues 「- 3 -」 to the footer) are dropped; articles stay."""
    from ingest.loaders import strip_running_lines

    pages = [
        (n, f"第{n}条（見出し{n}）\n本文{n}の一行目。\n本文{n}の二行目。\n- {n} -株式会社テスト 旅費規程")
        for n in range(1, 5)
    ]
    cleaned = strip_running_lines(pages)
    text = "\n".join(t for _, t in cleaned)
    assert "株式会社テスト 旅費規程" not in text and "- 2 -" not in text
    assert all(f"第{n}条（見出し{n}）" in text and f"本文{n}の二行目。" in text for n in range(1, 5))
    assert strip_running_lines(pages[:1]) == pages[:1], "one page: nothing is running"


def test_english_numbered_and_labelled_headings_in_plain_text():
    """English policies exported to PDF or text number their headings ("4.2 Paid Time Off") or label them
    ("Section 3 — Passwords"); a numbered list of instructions stays body text."""
    from ingest.loaders import unwrap_lines
    from ingest.structure import plain_blocks

    text = "\n".join(
        [
            "4. Time Off",
            "4.2 Paid Time Off",
            "Full-time employees accrue paid time off every pay period and may",
            "carry over up to 40 hours.",
            "4.2.1 Accrual",
            "Accrual starts on the first day of employment.",
            "1. Submit the form to HR",
            "2. Wait for approval from your manager",
            "Section 5 — Passwords",
            "Passwords must be at least 14 characters.",
        ]
    )
    blocks = plain_blocks(unwrap_lines(text))
    headings = [(b.text, b.level) for b in blocks if b.level is not None]
    assert headings == [
        ("4. Time Off", 2),
        ("4.2 Paid Time Off", 3),
        ("4.2.1 Accrual", 4),
        ("Section 5 — Passwords", 2),
    ]
    bodies = [b.text for b in blocks if b.level is None]
    assert "Full-time employees accrue paid time off every pay period and may carry over up to 40 hours." in bodies[0]
    assert "1. Submit the form to HR" in bodies[1] and "2. Wait for approval" in bodies[1]


def test_japanese_lines_are_not_english_headings():
    from ingest.structure import heading_level

    for line in ("1. 目的", "2019年度の方針", "3 本規程は全従業員に適用する。", "Page 3", "2.5 days per month"):
        assert heading_level(line) is None, line
