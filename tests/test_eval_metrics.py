"""eval/metrics.py on tiny hand-made cases whose answers are known."""

from __future__ import annotations

import math

import pytest

from eval.metrics import (
    QaItemResult,
    calibrate,
    dedupe_ranking,
    fact_found,
    hit_at_k,
    mrr_at_k,
    ndcg_at_k,
    percentile,
    qa_metrics,
    ranking_metrics,
    recall_at_k,
    source_matches,
    sweep,
)


def test_perfect_ranking_scores_one():
    qrels = {"a": 3, "b": 2, "c": 1}
    m = ranking_metrics(["a", "b", "c", "x", "y"], qrels, k=10)
    assert m == {"ndcg@10": pytest.approx(1.0), "recall@10": 1.0, "mrr@10": 1.0, "hit@1": 1.0, "hit@5": 1.0}


def test_reversed_graded_ranking_is_what_the_formula_says():
    qrels = {"a": 3, "b": 2, "c": 1}
    # DCG of c, b, a = 1/log2(2) + 2/log2(3) + 3/log2(4); ideal = 3/log2(2) + 2/log2(3) + 1/log2(4)
    dcg = 1 + 2 / math.log2(3) + 3 / 2
    idcg = 3 + 2 / math.log2(3) + 1 / 2
    assert ndcg_at_k(["c", "b", "a"], qrels, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(["c", "b", "a"], qrels, 10) == pytest.approx(0.78999, abs=1e-4)
    assert mrr_at_k(["c", "b", "a"], qrels, 10) == 1.0  # c is relevant too (grade 1)


def test_single_relevant_document_at_rank_three():
    qrels = {"d1": 1}
    ranked = ["d3", "d2", "d1"]
    assert ndcg_at_k(ranked, qrels, 10) == pytest.approx(1 / math.log2(4))  # = 0.5
    assert mrr_at_k(ranked, qrels, 10) == pytest.approx(1 / 3)
    assert hit_at_k(ranked, qrels, 1) == 0.0
    assert hit_at_k(ranked, qrels, 5) == 1.0
    assert mrr_at_k(ranked, qrels, 2) == 0.0  # outside the cut-off
    assert ndcg_at_k(ranked, qrels, 2) == 0.0


def test_recall_and_zero_grades():
    qrels = {"a": 1, "b": 1, "z": 0}  # a grade of 0 is a judged non-relevant document
    assert recall_at_k(["a", "z", "q"], qrels, 10) == 0.5
    assert recall_at_k(["z"], qrels, 10) == 0.0
    assert hit_at_k(["z"], qrels, 1) == 0.0
    # the ideal DCG is computed from relevant documents only, so the cut-off applies to it too
    assert ndcg_at_k(["a"], qrels, 1) == pytest.approx(1.0)
    assert ndcg_at_k(["x"], {}, 10) == 0.0


def test_dedupe_keeps_best_rank_of_each_document():
    assert dedupe_ranking(["d2", "d1", "d2", "d3", "d1"]) == ["d2", "d1", "d3"]


def test_percentile_interpolates():
    xs = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert percentile(xs, 50) == 3.0
    assert percentile(xs, 95) == pytest.approx(4.8)
    assert percentile(xs, 100) == 5.0
    assert percentile([], 95) == 0.0


@pytest.mark.parametrize(
    ("cited", "section", "source", "sections", "ok"),
    [
        ("01_就業規則.md", "就業規則 > 第6章 休暇等 > 第34条 年次有給休暇", "01_就業規則.md", ["第34条"], True),
        (
            "01_就業規則.md",
            "就業規則 > 第6章 休暇等 > 第34条 年次有給休暇",
            "01_就業規則.md",
            ["第35条", "第34条"],
            True,
        ),
        ("01_就業規則.md", "就業規則 > 第３４条 年次有給休暇", "01_就業規則.md", ["第34条"], True),  # full-width digits
        ("01_就業規則.md", "就業規則 > 第6章 休暇等 > 第3条 定義", "01_就業規則.md", ["第34条"], False),
        ("02_賃金規程.md", "賃金規程 > 第34条 x", "01_就業規則.md", ["第34条"], False),
        ("handbook/pages/leave.md", "Leave > Sick leave", "pages/leave.md", ["sick leave"], True),  # ends with, case
        ("pages/sick-leave.md", "Leave > Sick leave", "leave.md", ["Sick leave"], False),  # not on a path boundary
        ("pages/leave.md", "Leave", "pages/leave.md", [], True),
        ("pages/leave.md", "Leave", None, [], False),
    ],
)
def test_source_matches(cited, section, source, sections, ok):
    assert source_matches(cited, section, source=source, sections=sections) is ok


def test_fact_found_exact_and_fuzzy():
    answer = "就業規則の「第8条」に次のとおり定められています。\n> 法定時間外労働手当は、基本給 × 1.25 とする。60時間を超える部分は基本給×1.50とする。"
    assert fact_found("基本給×1.25", answer)  # exact after normalization (spaces, punctuation)
    assert fact_found("60時間を超える部分は基本給×1.50", answer)
    assert fact_found("法定時間外労働は基本給×1.25", answer)  # a paraphrase: most bigrams present
    assert not fact_found("深夜労働は基本給×0.35を加算", answer)
    assert not fact_found("New employees have 60 days to enroll in FEHB", answer)
    assert fact_found("Report it to the IT desk", "Report a lost laptop to the IT desk and your supervisor.")


def _item(id_, *, answerable, conf, ranks, facts=0, found=0, category="attendance", cited=True):
    return QaItemResult(
        id=id_,
        question=id_,
        answerable=answerable,
        category=category,
        confidence=conf,
        match_ranks=ranks,
        cited=[{"source": "s", "section": "x", "score": 1.0}] * (3 if cited else 0),
        facts=facts,
        facts_found=found,
    )


ITEMS = [
    _item("a1", answerable=True, conf=0.9, ranks=[0], facts=2, found=2),  # answered, right source
    _item("a2", answerable=True, conf=0.6, ranks=[1], facts=1, found=0),  # answered, wrong first source
    _item("a3", answerable=True, conf=0.3, ranks=[0], facts=1, found=1),  # right source, low confidence
    _item("a4", answerable=True, conf=0.8, ranks=[], facts=1, found=0, category="expense"),  # not found at all
    _item("u1", answerable=False, conf=0.7, ranks=[], category="expense"),  # unanswerable answered
    _item("u2", answerable=False, conf=0.2, ranks=[]),
    _item("u3", answerable=False, conf=0.95, ranks=[], cited=False),  # nothing retrieved: always escalated
]


def test_qa_metrics_by_hand():
    m = qa_metrics(ITEMS, threshold=0.5)
    # answered at 0.5: a1, a2, a4, u1 (u3 has no passage); correct = a1
    assert m["hit@1"] == 0.5  # a1, a3 of 4 answerable
    assert m["hit@3"] == 0.75  # a1, a2, a3
    assert m["answer_precision"] == 0.25
    assert m["deflection_rate"] == 0.25
    assert m["escalation_recall"] == round(2 / 3, 4)  # u2, u3
    assert m["facts_recall"] == 0.5  # answered answerable a1, a2, a4: 2 of 4 facts


def test_qa_metrics_nothing_answered_has_no_precision():
    m = qa_metrics(ITEMS, threshold=0.99)
    assert m["answer_precision"] is None
    assert m["facts_recall"] is None
    assert m["deflection_rate"] == 0.0
    assert m["escalation_recall"] == 1.0


def test_sweep_and_calibration():
    rows = sweep(ITEMS, step=0.05)
    assert [r["threshold"] for r in rows][:3] == [0.0, 0.05, 0.1]
    assert len(rows) == 21
    by_t = {r["threshold"]: r for r in rows}
    assert by_t[0.0]["answered"] == 6
    assert by_t[0.85]["answer_precision"] == 1.0  # only a1 answered
    assert by_t[0.85]["deflection_rate"] == 0.25
    assert by_t[0.75]["answer_precision"] == 0.5  # a1, a4
    recalls = [r["escalation_recall"] for r in rows]
    assert recalls == sorted(recalls)  # escalating more never lowers escalation recall
    assert (
        calibrate(rows, min_precision=0.9, min_answered=1) == 0.85
    )  # lowest threshold from which precision stays ≥ 0.9
    assert calibrate(rows, min_precision=0.5, min_answered=1) == 0.75
    # thresholds answering fewer than 2 questions are skipped: 0.85 (only a1) is no evidence, 0.8 breaks the bar
    assert calibrate(rows, min_precision=0.9, min_answered=2) is None
    assert calibrate(rows, min_precision=0.5, min_answered=2) == 0.75
    assert calibrate([{"threshold": 0.5, "answer_precision": 0.4, "answered": 9}], min_precision=0.9) is None


def test_llm_outcome_drives_headline_metrics_but_not_the_sweep():
    import dataclasses

    # the generator answered a3 (confidence 0.3) and declined a1 (0.9): headline metrics follow it
    items = [
        dataclasses.replace(i, outcome={"a1": "escalated", "a3": "answered"}.get(i.id, "escalated")) for i in ITEMS
    ]
    m = qa_metrics(items, threshold=0.5)
    assert m["answer_precision"] == 1.0 and m["deflection_rate"] == 0.25 and m["escalation_recall"] == 1.0
    # the sweep still describes the confidence rule, as without a generator
    assert sweep(items, step=0.05) == sweep(ITEMS, step=0.05)
