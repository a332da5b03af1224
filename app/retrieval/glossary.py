"""Company vocabulary: the words employees use → the words regulations use.

Employees write 「有休」「給料日」「ボーナス」「ホテル代」「残業」; regulations write 「年次有給休暇」「賃金の支払日」
「賞与」「宿泊費」「時間外労働」. Lexical search cannot bridge that gap on its own, so a question is expanded with
the formal terms of every colloquial word it contains. The vocabulary is data, merged into one `Glossary` from three
origins, each replacing the one before for the same word:

- `default`: general 総務 words (app/data/glossary.tsv), shipped with Madoguchi;
- `file`: the deployment's own TSV file (MADOGUCHI_GLOSSARY_FILE) — with the defaults, the `base`;
- `staff`: company words the staff add on the console's 「社内用語」 page, kept in the chunk store so every replica
  sees them (`extra`, swapped by `replace_extra()` when a replica reloads the corpus; app/ops/glossary.py).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from app.errors import ConfigError
from app.types import TermOrigin

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "data" / "glossary.tsv"

# Clock times in the late-night band (22:00–5:00) are 深夜 in Japanese labour rules.
_NIGHT = re.compile(r"(?:2[2-4]|[0-4])\s*時|午前\s*[0-4]\s*時")


def normalize(text: str) -> str:
    """How words are compared: NFKC (ｹｲﾋﾉｰﾄ = ケイヒノート, full-width Ａ = A), lower case, trimmed."""
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
        out[normalize(key)] = " ".join(terms.split())
    return out


@dataclass
class Glossary:
    """The merged vocabulary. `base` is the default list with the deployment file's entries on top (`file_keys` says
    which came from the file); `extra` holds the staff's entries, which replace base entries of the same word.
    `replace_extra()` swaps the staff's entries atomically (every question after it sees the new list)."""

    base: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)
    file_keys: frozenset[str] = frozenset()  # keys of `base` read from the deployment's file
    default_keys: frozenset[str] = frozenset()  # keys of the default list (a file entry may have replaced one)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        if not self.default_keys:
            self.default_keys = frozenset(self.base) - self.file_keys
        self._rebuild()

    @classmethod
    def load(cls, *, extra_file: Path | None = None) -> Glossary:
        """The default list plus the deployment's file (`word<TAB>formal terms`), both in `base`."""
        defaults = read_tsv(DEFAULT_FILE)
        from_file: dict[str, str] = {}
        if extra_file is not None:
            if not extra_file.is_file():
                raise ConfigError(
                    f"MADOGUCHI_GLOSSARY_FILE {extra_file} does not exist; create it (word<TAB>formal terms per line) "
                    "or unset the setting.",
                    f"MADOGUCHI_GLOSSARY_FILE の {extra_file} がありません。ファイルを作成する（1 行に「社内用語<TAB>正式な用語」）"
                    "か、設定を外してください。",
                )
            try:
                from_file = read_tsv(extra_file)
            except (ValueError, UnicodeDecodeError) as exc:
                raise ConfigError(
                    f"MADOGUCHI_GLOSSARY_FILE is not a glossary TSV (UTF-8, word<TAB>formal terms): {exc}",
                    f"MADOGUCHI_GLOSSARY_FILE の形式が正しくありません（UTF-8、1 行に「社内用語<TAB>正式な用語」）: {exc}",
                ) from exc
        return cls(base={**defaults, **from_file}, file_keys=frozenset(from_file), default_keys=frozenset(defaults))

    def _rebuild(self) -> None:
        merged = {**self.base, **self.extra}
        self._entries = merged
        self._keys = sorted(merged, key=len, reverse=True)

    def replace_extra(self, entries: dict[str, str]) -> None:
        with self._lock:
            self.extra = {normalize(k): " ".join(v.split()) for k, v in entries.items() if normalize(k) and v.strip()}
            self._rebuild()

    @property
    def entries(self) -> dict[str, str]:
        return dict(self._entries)

    def origin(self, key: str) -> TermOrigin | None:
        """Where the entry in force for `key` comes from (None: no entry)."""
        if key in self.extra:
            return "staff"
        return self.base_origin(key)

    def base_origin(self, key: str) -> TermOrigin | None:
        """Where the base entry of `key` comes from: the deployment's file or the default list (None: neither)."""
        if key in self.file_keys:
            return "file"
        return "default" if key in self.base else None

    def overrides(self, key: str) -> TermOrigin | None:
        """The origin of the entry that the one in force replaces: a staff entry replaces a file or default entry, a
        file entry a default one."""
        if key in self.extra:
            return self.base_origin(key)
        if key in self.file_keys and key in self.default_keys:
            return "default"
        return None

    def expansions(self, question: str) -> list[tuple[str, str]]:
        """(colloquial key, formal terms) pairs found in the question, longest keys first, no key inside another."""
        text = normalize(question)
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
