"""The category a group of questions belongs to, from their own words (app/retrieval/categories.py over
app/data/category_words.tsv, data not code): each question votes with the category of its words.

「未解決の質問」 suggests a group's category from these words: the category the bot's failed attempt carried comes
from whatever manual it cited, which for an unanswered question is often an unrelated one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from app.retrieval.categories import category_of


def suggest_category(texts: Sequence[str]) -> str | None:
    """The category most of the questions' words point to; None when their words say nothing (the staff choose)."""
    votes = Counter(c for t in texts if (c := category_of(t)))
    if not votes:
        return None
    return max(sorted(votes), key=lambda c: votes[c])
