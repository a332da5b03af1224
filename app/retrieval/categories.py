"""What a question is about, from its own words: a small classifier over the category words in
app/data/category_words.tsv (data the company owns, edited as a file). Used for questions the bot could not
answer, whose top document may be unrelated to them."""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

from app.types import CATEGORY_NAMES

WORDS_FILE = Path(__file__).resolve().parents[1] / "data" / "category_words.tsv"


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


@functools.lru_cache(maxsize=4)
def load_words(path: Path = WORDS_FILE) -> tuple[tuple[str, str], ...]:
    """(category, normalized word) pairs; unknown categories and malformed lines are skipped."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#") or "\t" not in line:
            continue
        category, word = (part.strip() for part in line.split("\t", 1))
        if category in CATEGORY_NAMES and word:
            out.append((category, _norm(word)))
    return tuple(out)


def _matches(word: str, text: str) -> bool:
    if word.isascii():  # English: whole words or phrases and their plurals (so "late" is not found in "translate")
        return re.search(rf"(?<![a-z0-9]){re.escape(word)}(?:s|es)?(?![a-z0-9])", text) is not None
    return word in text


def category_of(question: str, *, path: Path = WORDS_FILE) -> str | None:
    """The category with the most matching words (ties: the order of the file), or None when no word matches."""
    text = _norm(question)
    hits: dict[str, int] = {}
    for category, word in load_words(path):
        if _matches(word, text):
            hits[category] = hits.get(category, 0) + 1
    return max(hits, key=lambda c: hits[c]) if hits else None
