"""Categories of questions the bot could not answer come from the question's words (app/data/category_words.tsv),
not from an unrelated top document; English questions get real categories (fast tier: hashing embedder)."""

from __future__ import annotations

import pytest

from app.answer import answer
from app.retrieval.categories import category_of, load_words
from tests.support.querylog import GAP, build


@pytest.mark.parametrize(
    ("question", "category"),
    [
        ("How do I get reimbursed for a taxi receipt?", "expense"),
        ("Can I take paid leave next Friday?", "attendance"),
        ("Where do I order new business cards?", "supplies"),
        ("My laptop monitor is broken", "supplies"),
        ("交通費の領収書をなくしました", "expense"),
        ("残業の申請はいつまでですか", "attendance"),
        ("I need to translate a document", None),  # "late" is not a word of "translate"
        (GAP, None),
    ],
)
def test_category_words(question, category):
    assert category_of(question) == category


def test_words_are_data_with_every_category():
    assert {c for c, _ in load_words()} == {"attendance", "expense", "supplies"}


def test_escalated_questions_take_the_category_of_their_words(fast_services, tmp_path):
    services = build(fast_services, tmp_path)  # the tiny corpus: 就業規則 (attendance) and 経費精算規程 (expense)
    gap = answer(question=GAP, services=services, threshold=1.01)
    assert gap.outcome == "escalated" and gap.sources  # it has a top document …
    assert gap.sources[0].source and gap.category == "other"  # … but Wi-Fi is not about that document's category
    english = answer(question="Where do I order new business cards?", services=services, threshold=1.01)
    assert english.outcome == "escalated" and english.category == "supplies"
    logged = services.query_log.get(english.query_id)
    assert logged.category == "supplies"
    chosen = answer(question=GAP, services=services, category="expense", threshold=1.01)
    assert chosen.category == "expense"  # the asker's own choice stays
