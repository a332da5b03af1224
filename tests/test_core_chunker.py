"""Chunking (ingest/chunker.py): section paths from the regulation structure, long articles split at 項 and at
sentence ends (never mid-sentence), FAQ rows as single chunks; and what each stored chunk carries."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from pathlib import Path

import pytest

from ingest.chunker import MAX_CHARS, chunk_document
from ingest.loaders import Block, LoadedDocument, load, load_markdown_text
from ingest.pipeline import category_for, normalize_category

MANUALS = Path(__file__).resolve().parents[1] / "examples" / "manuals"
ARTICLE_HEAD = re.compile(r"^第[0-9０-９]+条[（(]", re.M)


def _chunks(name: str):
    return chunk_document(load(MANUALS / name))


# ------------------------------------------------------------------------------------------ section paths


def test_section_paths_of_the_cp932_regulation():
    chunks = _chunks("備品管理規程.txt")
    sections = [c.section for c in chunks]
    assert "備品管理規程 > 第2章 消耗品 > 第4条（消耗品の利用）" in sections
    assert "備品管理規程 > 第1章 総則 > 第1条（目的）" in sections
    four = [c for c in chunks if c.section.endswith("第4条（消耗品の利用）")]
    assert len(four) == 1
    assert four[0].heading == "第4条（消耗品の利用）"
    assert "備品棚" in four[0].text and "備品申請フォーム" in four[0].text
    # An article's chunk never carries the next article's text, and articles keep their chapter when a chapter changes.
    for c in chunks:
        assert not ARTICLE_HEAD.search(c.text), f"{c.section} contains another article heading"
    assert any(s.startswith("備品管理規程 > 第4章") for s in sections)
    assert not any("第2章" in s and "第4章" in s for s in sections), (
        "a new chapter replaces the previous one in the path"
    )
    assert [c.position for c in chunks] == list(range(len(chunks)))


def test_section_paths_of_the_pdf_keep_pages():
    chunks = _chunks("勤怠管理規程.pdf")
    eleven = [c for c in chunks if c.section.endswith("第11条(年次有給休暇の付与)")]
    assert eleven and all(c.section == "勤怠管理規程 > 第3章 休日及び休暇 > 第11条(年次有給休暇の付与)" for c in eleven)
    assert all(c.page is not None and c.page >= 1 for c in chunks)
    assert len({c.page for c in chunks}) >= 5, "chunks come from every page of the PDF"
    assert sorted(c.page for c in chunks) == [c.page for c in chunks], "pages only go forward"


def test_section_paths_of_word_and_markdown():
    docx_sections = {c.section for c in _chunks("経費精算規程.docx")}
    assert "経費精算規程 > 第4章 出張旅費 > 第15条（日当）" in docx_sections
    md = _chunks("慶弔見舞金規程.md")
    assert "慶弔見舞金規程 > 第2章 慶事 > 第3条（結婚祝金）" in {c.section for c in md}
    # the `# title` heading is not repeated under itself
    assert not any(c.section.startswith("慶弔見舞金規程 > 慶弔見舞金規程") for c in md)


def test_faq_rows_become_one_chunk_each():
    chunks = _chunks("よくある質問.xlsx")
    assert len(chunks) == 25
    assert all(c.kind == "faq" and c.page is None for c in chunks)
    first = chunks[0]
    assert first.question == "入社してすぐ有給は使えますか？"
    assert first.section == "よくある質問 > 入社してすぐ有給は使えますか？"
    assert first.category == "勤怠"
    assert first.text.startswith("入社日から6か月間継続して勤務し")


def test_markdown_headings_nest_and_pop():
    doc = load_markdown_text("# 手引き\n\n## A\n\n本文A。\n\n### A-1\n\n本文A1。\n\n## B\n\n本文B。\n", "x")
    got = [(c.section, c.text) for c in chunk_document(doc)]
    assert got == [("手引き > A", "本文A。"), ("手引き > A > A-1", "本文A1。"), ("手引き > B", "本文B。")]


# ------------------------------------------------------------------------------------------ long articles


def _article(body: str) -> LoadedDocument:
    return LoadedDocument(
        title="就業規則",
        blocks=[
            Block("第5章　休暇", 2),
            Block("第34条（年次有給休暇）", 4),
            Block(body),
            Block("第35条（産前産後の休業）", 4),
            Block("産前産後の休業を定める。"),
        ],
    )


def _sentence(i: int, n: int = 60) -> str:
    return f"第{i}文では" + "年次有給休暇の取得手続について定める" * (n // 18) + "ものとする。"


def test_a_long_article_is_split_at_its_items():
    items = [f"{i}．" + "".join(_sentence(10 * i + j, n=90) for j in range(3)) for i in range(1, 6)]
    body = "\n".join(items)
    assert len(body) > 2 * MAX_CHARS
    chunks = [c for c in chunk_document(_article(body)) if "第34条" in c.section]
    assert len(chunks) >= 3
    for c in chunks:
        assert c.section == "就業規則 > 第5章 休暇 > 第34条（年次有給休暇）"
        assert len(c.text) <= MAX_CHARS
        assert re.match(r"^[1-5]．", c.text), f"a piece starts at an item: {c.text[:20]!r}"
        assert c.text.endswith("。")
    # nothing lost, nothing duplicated, order kept
    assert "\n".join(c.text for c in chunks) == body
    assert [c.position for c in chunk_document(_article(body))] == list(range(len(chunk_document(_article(body)))))


def test_a_long_item_is_split_at_sentence_ends_never_mid_sentence():
    sentences = [_sentence(i, n=90) for i in range(1, 25)]
    body = "１　" + "".join(sentences)
    assert len(body) > 3 * MAX_CHARS
    chunks = [c for c in chunk_document(_article(body)) if "第34条" in c.section]
    assert len(chunks) >= 4
    for c in chunks:
        assert len(c.text) <= MAX_CHARS
        assert c.text.endswith("。"), f"ends mid-sentence: {c.text[-20:]!r}"
    joined = "".join(c.text.replace("\n", "") for c in chunks)
    assert joined == body
    for s in sentences:  # each sentence lives whole in exactly one chunk
        assert sum(s in c.text for c in chunks) == 1


def test_english_sentences_keep_their_spaces_when_a_long_section_is_split():
    sentences = [f"Rule {i} says that every employee files the request form before the deadline." for i in range(30)]
    doc = load_markdown_text("# Guide\n\n## Requests\n\n" + " ".join(sentences) + "\n", "guide")
    chunks = chunk_document(doc)
    assert len(chunks) >= 3
    for c in chunks:
        assert len(c.text) <= MAX_CHARS
        assert c.text.rstrip().endswith("deadline."), f"ends mid-sentence: {c.text[-30:]!r}"
        assert "deadline.Rule" not in c.text, "the space between two sentences was lost"
    for s in sentences:
        assert sum(s in c.text for c in chunks) == 1


def test_a_tiny_tail_is_folded_into_the_previous_chunk():
    doc = LoadedDocument(title="T", blocks=[Block("第1条（目的）", 4), Block("本文。" * 10), Block("短い。")])
    chunks = chunk_document(doc, max_chars=25)
    assert all(len(c.text) >= 3 for c in chunks)
    assert chunks[-1].text.endswith("短い。")
    assert Counter(c.section for c in chunks) == {"T > 第1条（目的）": len(chunks)}


# ------------------------------------------------------------------------------------------ category rules


@pytest.mark.parametrize(
    ("path", "hint", "expected"),
    [
        ("勤怠管理規程.pdf", None, "attendance"),
        ("規程/経費精算規程.docx", None, "expense"),
        ("備品管理規程.txt", None, "supplies"),
        ("よくある質問.xlsx", None, "other"),
        ("勤怠管理規程.md", "経費", "expense"),  # front matter wins over the path
        ("guide.md", "Supplies", "supplies"),
        ("guide.md", "unknown-category", "other"),
    ],
)
def test_category_from_front_matter_or_path_pattern(path, hint, expected):
    from app.settings import DEFAULT_CATEGORY_PATTERNS

    assert category_for(path, hint, DEFAULT_CATEGORY_PATTERNS) == expected


def test_category_patterns_come_from_settings(monkeypatch):
    from app.settings import Settings

    monkeypatch.setenv("MADOGUCHI_CATEGORY_PATTERNS", '{"manuals/it/*": "supplies", "*travel*": "expense"}')
    patterns = Settings(_env_file=None).category_patterns
    assert category_for("manuals/it/vpn.md", None, patterns) == "supplies"
    assert category_for("docs/travel-guide.md", None, patterns) == "expense"
    assert category_for("勤怠管理規程.pdf", None, patterns) == "other", "the setting replaces the default mapping"
    assert normalize_category("勤怠") == "attendance" and normalize_category("その他") == "other"
    assert normalize_category("bogus") is None


# ------------------------------------------------------------------------------------------ stored chunks


def test_every_stored_chunk_carries_its_document_fields(sample_services):
    """Each chunk in Chroma: doc id, source, title, section, page (PDF), category, content hash of the file."""
    store = sample_services.store
    manifest = store.manifest()
    expected = {
        "勤怠管理規程.pdf": ("勤怠管理規程", "attendance", True),
        "経費精算規程.docx": ("経費精算規程", "expense", False),
        "備品管理規程.txt": ("備品管理規程", "supplies", False),
        "慶弔見舞金規程.md": ("慶弔見舞金規程", "other", False),
        "よくある質問.xlsx": ("よくある質問", None, False),
    }
    for doc_id, (title, category, paged) in expected.items():
        digest = hashlib.sha256((MANUALS / doc_id).read_bytes()).hexdigest()
        got = store.chunks.get(where={"doc_id": doc_id}, include=["metadatas", "documents"])
        assert got["ids"], doc_id
        assert len(got["ids"]) == manifest[doc_id].chunks
        assert manifest[doc_id].hash == digest and manifest[doc_id].status == "ok"
        for cid, meta, text in zip(got["ids"], got["metadatas"], got["documents"]):
            assert meta["doc_id"] == doc_id and meta["source"] == doc_id
            assert meta["title"] == title
            assert meta["section"] == title or meta["section"].startswith(title + " > ")
            assert meta["doc_hash"] == digest and digest[:16] in cid
            assert text.strip()
            if category:
                assert meta["category"] == category
            assert (meta["page"] >= 1) if paged else (meta["page"] == -1)
    faq = store.chunks.get(where={"doc_id": "よくある質問.xlsx"}, include=["metadatas"])["metadatas"]
    by_question = {m["question"]: m["category"] for m in faq}
    assert by_question["入社してすぐ有給は使えますか？"] == "attendance", "an FAQ row's own カテゴリ wins"
    assert by_question["ボールペンはどこで頼めばいい？"] == "supplies"
    assert by_question["Wi-Fiのパスワードは？"] == "other"
