"""Company vocabulary: the words employees use → the words regulations use.

Employees write 「有休」「給料日」「ボーナス」「ホテル代」「残業」; regulations write 「年次有給休暇」「賃金の支払日」
「賞与」「宿泊費」「時間外労働」. Lexical search cannot bridge that gap on its own, so a question is expanded with
the formal terms of every colloquial word it contains. The vocabulary is data: a default of general 総務 words
(app/data/glossary.tsv) plus the deployment's own entries (a TSV file the staff keep, and entries added at run
time), merged into one `Glossary`; a deployment entry with the same key replaces the default.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "data" / "glossary.tsv"

# Clock times in the late-night band (22:00–5:00) are 深夜 in Japanese labour rules.
_NIGHT = re.compile(r"(?:2[2-4]|[0-4])\s*時|午前\s*[0-4]\s*時")


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").strip().lower()


def read_tsv(path: Path) -> dict[str, str]:
    """`key<TAB>formal terms` lines; `#` comments and blank lines are skipped."""
    out: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, terms = line.partition("\t")
        if not sep or not key.strip() or not terms.strip():
            raise ValueError(f"{path}:{n}: expected 'word<TAB>formal terms'")
        out[_norm(key)] = " ".join(terms.split())
    return out


@dataclass
class Glossary:
    """The merged vocabulary; `replace_extra()` swaps the deployment's entries atomically (every question after it
    sees the new list)."""

    base: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rebuild()

    @classmethod
    def load(cls, *, extra_file: Path | None = None) -> Glossary:
        extra = read_tsv(extra_file) if extra_file and extra_file.is_file() else {}
        return cls(base=read_tsv(DEFAULT_FILE), extra=extra)

    def _rebuild(self) -> None:
        merged = {**self.base, **self.extra}
        self._entries = merged
        self._keys = sorted(merged, key=len, reverse=True)

    def replace_extra(self, entries: dict[str, str]) -> None:
        with self._lock:
            self.extra = {_norm(k): " ".join(v.split()) for k, v in entries.items() if _norm(k) and v.strip()}
            self._rebuild()

    @property
    def entries(self) -> dict[str, str]:
        return dict(self._entries)

    def expansions(self, question: str) -> list[tuple[str, str]]:
        """(colloquial key, formal terms) pairs found in the question, longest keys first, no key inside another."""
        text = _norm(question)
        entries, keys = self._entries, self._keys
        found: list[tuple[str, str]] = []
        taken: list[tuple[int, int]] = []
        for key in keys:
            start = text.find(key)
            if start < 0:
                continue
            end = start + len(key)
            if any(s <= start and end <= e for s, e in taken):
                continue
            taken.append((start, end))
            found.append((key, entries[key]))
        night = _NIGHT.search(text)
        if night:
            found.append((night.group(0), "深夜 22時"))
        return found
