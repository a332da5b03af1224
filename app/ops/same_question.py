"""Do two unanswered questions ask the same thing? Similar meaning is not enough: 「給料日はいつ？」 and 「有給は何日？」
sit close in embedding space. Two questions agree when their key content words match (idf-weighted, the company
glossary's synonyms counting as one word: the words they share are a fair part of each), they ask for the same
kind of thing (a date, a number of days, an amount, a procedure) and name no different numbers or dates
(5月分 ≠ 6月分, 夏 ≠ 冬).
Used by 「未解決の質問」 (app/ops/unresolved.py) and measured by `madoguchi eval groups`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from app.retrieval.glossary import Glossary
from app.retrieval.tokenizer import Tokenizer

# The key words two questions share must be at least this part of each one's (idf-weighted; chosen on
# eval/training/grouping.jsonl: 0.2 mixed more intents, 0.4 split more paraphrases).
SHARED = 0.3

# Words of the asking, not of the topic (what is asked for is the focus below): they never count as key words.
ASKING_WORDS = frozenset(
    "何日 何 いつ 幾ら いくら 教える 方法 知る 欲しい 出来る どこ 何処 どう 如何 何歳 何時 場合 時 とき 取る 貰う 有る 良い "
    "扱い 必要 頼む 使う 分かる 分る 今 自分 会社 ください 下さる 毎月 月 年 日 間 前 後".split()
)

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_KANJI_NUMBER = re.compile(r"[一二三四五六七八九十百千]+(?=[日月年回時分円人週ヶか箇])")
# Words that name a time: two questions naming different ones ask about different dates.
_TIME_WORDS = (
    "今月",
    "先月",
    "来月",
    "今年",
    "去年",
    "昨年",
    "来年",
    "今週",
    "先週",
    "来週",
    "夏",
    "冬",
    "上期",
    "下期",
    "上半期",
    "下半期",
    "春",
    "秋",
)


# What a question asks for: two questions asking for different kinds of thing (a date vs a number of days vs an
# amount vs a procedure) ask different questions, however close their topic words are.
_FOCUS = {
    "when": re.compile(r"いつ|何日に|何時|時期|日程|期限|締め切り|締切|支給日|給料日|\bwhen\b|what day|which day"),
    "count": re.compile(r"何日(?!に)|日数|何回|何週|何歳|何か月|何ヶ月|何年|期間|how many|how long"),
    "amount": re.compile(r"いくら|金額|料金|上限|の額|費用|how much"),
    "how": re.compile(r"どうすれば|どうやって|どうやる|方法|手続き|申請|どこ|届|頼め|予約|how do|how can|where"),
}


def focus_of(text: str) -> frozenset[str]:
    t = unicodedata.normalize("NFKC", text).lower()
    return frozenset(k for k, rx in _FOCUS.items() if rx.search(t))


def numbers_and_dates(text: str) -> frozenset[str]:
    """The numbers (digits, kanji numerals before a counter) and time words a question names."""
    t = unicodedata.normalize("NFKC", text)
    found = set(_NUMBER.findall(t)) | set(_KANJI_NUMBER.findall(t))
    found.update(w for w in _TIME_WORDS if w in t and not any(w != o and w in o and o in t for o in _TIME_WORDS))
    return frozenset(found)


@dataclass(frozen=True)
class QuestionKey:
    text: str
    concepts: tuple[tuple[str, ...], ...]  # a word and its glossary synonyms count as one concept
    weights: tuple[float, ...]
    terms: frozenset[str]  # the question's own tokens
    numbers: frozenset[str]
    focus: frozenset[str] = frozenset()  # what is asked for: when | count | amount | how


class Agreement:
    """`agree(a, b)` over question texts, with the corpus idf (rare words are the key ones) when given."""

    def __init__(
        self,
        *,
        tokenizer: Tokenizer,
        glossary: Glossary | None = None,
        idf: Callable[[str], float] | None = None,
        shared: float = SHARED,
    ) -> None:
        self.tokenizer = tokenizer
        self.glossary = glossary
        self.idf = idf or (lambda _t: 1.0)
        self.shared = shared
        self._keys: dict[str, QuestionKey] = {}

    def key(self, text: str) -> QuestionKey:
        found = self._keys.get(text)
        if found is not None:
            return found
        from app.answer import analyze

        tokens = self.tokenizer.tokens(text)
        if self.glossary is not None:
            q = analyze(text, tokenizer=self.tokenizer, glossary=self.glossary)
            concepts = [tuple(c) for c in q.concepts if c]
        else:
            concepts = [(t,) for t in dict.fromkeys(tokens)]
        concepts = [c for c in concepts if not all(t in ASKING_WORDS for t in c)]
        # Matched against the other question's own words only: a concept's synonyms (its glossary terms) find the
        # other's words, but the other's synonyms are not words it used (broad terms such as 慶弔 would join
        # 結婚 and 忌引き).
        terms = set(tokens)
        key = QuestionKey(
            text=text,
            concepts=tuple(concepts),
            weights=tuple(max(self.idf(t) for t in c) for c in concepts),
            terms=frozenset(terms),
            numbers=numbers_and_dates(text),
            focus=focus_of(text),
        )
        self._keys[text] = key
        return key

    @staticmethod
    def coverage(a: QuestionKey, b: QuestionKey) -> float:
        """Share of `a`'s key-word weight that `b` also names."""
        total = sum(a.weights)
        if not total:
            return 0.0
        return sum(w for c, w in zip(a.concepts, a.weights) if any(t in b.terms for t in c)) / total

    def agree(self, a_text: str, b_text: str) -> bool:
        a, b = self.key(a_text), self.key(b_text)
        if a.numbers and b.numbers and a.numbers != b.numbers:
            return False
        if a.focus and b.focus and not a.focus & b.focus:
            return False
        return min(self.coverage(a, b), self.coverage(b, a)) >= self.shared
