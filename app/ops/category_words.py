"""The category a question belongs to, from its own words (app/data/category_words.tsv, data not code).

「未解決の質問」 suggests a group's category from these words: the category the bot's failed attempt carried comes
from whatever manual it cited, which for an unanswered question is often an unrelated one.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from app.types import CATEGORY_NAMES

WORDS_FILE = Path(__file__).resolve().parents[1] / "data" / "category_words.tsv"


@functools.lru_cache(maxsize=4)
def load_words(path: Path = WORDS_FILE) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        category, _, words = line.partition("\t")
        category = category.strip()
        if category in CATEGORY_NAMES:
            norm = (unicodedata.normalize("NFKC", w).lower() for w in words.split())
            out[category] = tuple(dict.fromkeys(w for w in norm if w))
    return out


def category_scores(texts: Sequence[str], words: dict[str, tuple[str, ...]] | None = None) -> dict[str, int]:
    """Matched characters per category over `texts` (a longer matched word says more)."""
    words = load_words() if words is None else words
    scores: dict[str, int] = {}
    for text in texts:
        t = unicodedata.normalize("NFKC", text).lower()
        for category, ws in words.items():
            hit = sum(len(w) for w in ws if w in t)
            if hit:
                scores[category] = scores.get(category, 0) + hit
    return scores


def suggest_category(texts: Sequence[str]) -> str | None:
    """The category whose words the questions use most; None when they use none (the staff choose)."""
    scores = category_scores(texts)
    if not scores:
        return None
    return max(sorted(scores), key=lambda c: scores[c])
