"""A document's category: front matter `category:` (Japanese or English names) wins, else the path patterns."""

from __future__ import annotations

import fnmatch
from pathlib import Path

from app.types import CATEGORY_NAMES

CATEGORIES = CATEGORY_NAMES
_CATEGORY_ALIASES = {
    "勤怠": "attendance",
    "就業": "attendance",
    "休暇": "attendance",
    "attendance": "attendance",
    "経費": "expense",
    "精算": "expense",
    "出張": "expense",
    "expense": "expense",
    "expenses": "expense",
    "備品": "supplies",
    "消耗品": "supplies",
    "supplies": "supplies",
    "supply": "supplies",
    "その他": "other",
    "other": "other",
}


def normalize_category(value: str | None) -> str | None:
    if not value:
        return None
    value = str(value).strip()
    return _CATEGORY_ALIASES.get(value.lower(), _CATEGORY_ALIASES.get(value))


def category_for(path: str, hint: str | None, patterns: dict[str, str]) -> str:
    """Front matter (`hint`) wins; then the first matching path pattern; else `other`."""
    cat = normalize_category(hint)
    if cat:
        return cat
    for pattern, category in patterns.items():
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(Path(path).name, pattern):
            return normalize_category(category) or "other"
    return "other"
