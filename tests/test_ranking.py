"""Ranking, confidence, scope preference, answer-first text and glossary edits — fast tier: real Sudachi, real
loaders/chunker/ingest row builder, the committed models, a deterministic hashing embedder and an in-memory
snapshot (no Chroma), so each test runs in milliseconds."""

from __future__ import annotations

import pytest

from app.answer import analyze, answer, confidence_of, retrieve
from app.retrieval.embedders import HashingEmbedder
from app.retrieval.glossary import Glossary
from app.retrieval.index import CorpusIndex, Snapshot
from app.retrieval.ranking import RankParams
from app.services import Services
from app.settings import get_settings
from app.store.chroma import ChunkRows
from ingest.chunker import chunk_document
from ingest.loaders import load_markdown_text
from ingest.pipeline import chunk_rows

GENERAL = """---
title: 就業規則
---
# 就業規則
## 第1章 総則
### 第1条（目的）
この規則は、株式会社テストの従業員の就業に関する事項を定める。
### 第2条（適用範囲）
この規則は、正社員に適用する。パートタイマーについては別に定める。
## 第2章 休暇
### 第10条（年次有給休暇）
1. 入社後6か月継続勤務し、所定労働日の8割以上出勤した者に、10日の年次有給休暇を与える。
2. 年次有給休暇を取得するときは、3日前までに勤怠システムで申請しなければならない。
### 第11条（特別休暇）
従業員が献血又は骨髄提供を行うときは、特別休暇として1日を与える。
### 第12条（賞与）
賞与は、毎年6月及び12月に支給する。
"""

PART = """---
title: パートタイマー就業規則
---
# パートタイマー就業規則
### 第1条（適用範囲）
この規則は、パートタイマーに適用する。
### 第8条（年次有給休暇）
週所定労働日数が4日以下のパートタイマーには、比例付与により7日の年次有給休暇を与える。
### 第9条（賞与）
パートタイマーには賞与を支給しない。
"""

EXPENSE = """---
title: 旅費規程
---
# 旅費規程
### 第5条（日当）
出張の日当は、日帰り出張は1,000円、宿泊を伴う出張は1日につき2,000円とする。
### 第6条（宿泊費）
宿泊費は、1泊につき10,000円を上限として実費を支給する。
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    tokenizer = _tokenizer()
    embedder = HashingEmbedder()
    rows = ChunkRows(embeddings=None)
    vectors = []
    for n, text in enumerate((GENERAL, PART, EXPENSE)):
        doc = load_markdown_text(text, f"doc{n}")
        got = chunk_rows(
            embedder=embedder,
            tokenizer=tokenizer,
            doc_id=f"{doc.title}.md",
            source=f"{doc.title}.md",
            doc=doc,
            drafts=chunk_document(doc),
            doc_hash=f"{n:032d}",
            category="attendance",
        )
        rows.ids += got.ids
        rows.documents += got.documents
        rows.metadatas += got.metadatas
        vectors.append(got.embeddings)
    import numpy as np

    rows.embeddings = np.vstack(vectors)
    index = CorpusIndex(store=None)  # type: ignore[arg-type] - served from memory, never refreshed
    index.snapshot = Snapshot.of_rows(rows)
    settings = get_settings(data_dir=tmp_path_factory.mktemp("data"), embedder="hash")
    return Services(settings=settings, store=None, index=index, embedder=embedder, tokenizer=tokenizer)  # type: ignore[arg-type]


_TOKENIZER = None


def _tokenizer():
    global _TOKENIZER
    from app.retrieval.tokenizer import Tokenizer

    _TOKENIZER = _TOKENIZER or Tokenizer()
    return _TOKENIZER


def _top(services, question: str) -> str:
    return retrieve(question, services=services, k=5).passages[0].top.chunk.section


def test_a_stated_class_prefers_that_class_rules(tiny):
    assert _top(tiny, "パートなんですけど、有給って何日もらえますか？").startswith("パートタイマー就業規則 > 第8条")
    assert _top(tiny, "有給休暇って何日もらえますか？").startswith("就業規則 > 第2章 休暇 > 第10条")


def test_unstated_class_answer_mentions_the_other_rules(tiny):
    result = answer(question="有給休暇は入社してから何日もらえますか？", services=tiny, threshold=0.0, record=False)
    assert result.sources[0].section.endswith("第10条（年次有給休暇）")
    assert "パートタイマー・アルバイトの方には別の規程（パートタイマー就業規則）が適用されます" in result.answer
    stated = answer(question="パートです。有給休暇は何日もらえますか？", services=tiny, threshold=0.0, record=False)
    assert "別の規程" not in stated.answer


def test_answer_first_puts_the_number_before_the_excerpt(tiny):
    result = answer(question="出張の日当っていくら？", services=tiny, threshold=0.0, record=False)
    lead, sep, rest = result.answer.partition("出典: 旅費規程 > 第5条（日当）")
    assert sep, result.answer
    assert lead.startswith("出張の日当は") and "2,000円" in lead, "the answering sentence comes first"
    assert result.answer.count("出典:") == 1 and "…" not in result.answer


def test_confidence_is_a_probability_and_orders_on_topic_above_off_topic(tiny):
    on = confidence_of(retrieve("宿泊費の上限はいくらですか？", services=tiny, k=5))
    off = confidence_of(retrieve("社員食堂の今日のメニューは何ですか？", services=tiny, k=5))
    assert 0.0 <= off < on <= 1.0


def test_glossary_edits_take_effect_at_once(tiny):
    glossary: Glossary = tiny.index.glossary
    question = "ドナー休暇ってありますか？"
    before = analyze(question, tokenizer=tiny.tokenizer, glossary=glossary)
    assert "献血" not in before.tokens
    try:
        glossary.replace_extra({"ドナー休暇": "献血 骨髄提供 特別休暇"})
        after = analyze(question, tokenizer=tiny.tokenizer, glossary=glossary)
        assert "献血" in after.tokens and "特別休暇" in after.tokens
        assert _top(tiny, question).endswith("第11条（特別休暇）")
    finally:
        glossary.replace_extra({})


def test_default_glossary_is_general_vocabulary():
    entries = Glossary.load().entries
    assert entries["有休"] == "年次有給休暇"
    for dev_word in ("fehb", "fedvip", "tsp", "tock"):
        assert dev_word not in entries and not any(dev_word in v.split() for v in entries.values())


def test_params_are_data(tiny):
    narrow = RankParams(depth=2, candidates=2)
    r = retrieve("賞与はいつ支給されますか", services=tiny, k=5, params=narrow)
    assert len(r.passages) <= 2


def test_default_threshold_is_the_trained_rule():
    import json

    from app.retrieval.learned import MODEL_DIR
    from app.settings import Settings

    trained = json.loads((MODEL_DIR / "confidence.json").read_text(encoding="utf-8"))["threshold"]
    assert Settings.model_fields["confidence_threshold"].default == trained


def test_tree_ranker_scores_every_candidate_like_sklearn_would():
    """The exported trees, evaluated level by level in numpy, give each tree's leaf: a hand-made two-tree model."""
    import numpy as np

    from app.retrieval.learned import TreeModel

    model = TreeModel.from_dict(
        {
            "features": ["a", "b"],
            "baseline": -1.0,
            "depth": 3,
            "trees": [
                {
                    "feature": [0, 0, 0],
                    "threshold": [0.5, 0, 0],
                    "left": [1, 0, 0],
                    "right": [2, 0, 0],
                    "leaf": [False, True, True],
                    "value": [0, 0.25, 2.0],
                },
                {
                    "feature": [1, 0, 1, 0, 0],
                    "threshold": [1.0, 0, 3.0, 0, 0],
                    "left": [1, 0, 3, 0, 0],
                    "right": [2, 0, 4, 0, 0],
                    "leaf": [False, True, False, True, True],
                    "value": [0, -0.5, 0, 0.1, 0.7],
                },
            ],
        }
    )
    x = model.matrix([{"a": 0.2, "b": 0.5}, {"a": 0.9, "b": 2.0}, {"a": 0.5, "b": 4.0}])
    assert np.allclose(model.logits(x), [-1.0 + 0.25 - 0.5, -1.0 + 2.0 + 0.1, -1.0 + 0.25 + 0.7])
